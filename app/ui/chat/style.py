"""The Chat tab's look. Colours are chosen to read well on light and dark window themes."""

STYLE = """
#messageCanvas { background: palette(base); }
#emptyState { color: #6b7280; padding: 40px 24px; }
#userMessage {
    background: rgba(59, 130, 246, 0.10);
    border: 1px solid rgba(59, 130, 246, 0.28);
    border-radius: 10px;
    margin-left: 56px;
}
#assistantMessage {
    background: palette(base);
    border: 1px solid rgba(127, 127, 127, 0.28);
    border-radius: 10px;
    margin-right: 24px;
}
#author { font-weight: 600; }
#meta { color: #6b7280; font-size: 9pt; }
#notice { border-radius: 6px; padding: 6px 8px; }
#notice[severity="error"] {
    color: #b42318; background: rgba(240, 68, 56, 0.10); border: 1px solid rgba(240, 68, 56, 0.35);
}
#notice[severity="info"] {
    color: palette(text); background: rgba(234, 170, 8, 0.12);
    border: 1px solid rgba(234, 170, 8, 0.40);
}
#textBlock, #codeText { background: transparent; }
#codeBlock {
    background: rgba(127, 127, 127, 0.08);
    border: 1px solid rgba(127, 127, 127, 0.25);
    border-radius: 6px;
}
#codeLanguage { color: #6b7280; font-size: 9pt; }
#chatToolbar { border-bottom: 1px solid rgba(127, 127, 127, 0.25); }
#conversationTitle { font-size: 12pt; font-weight: 600; }
#errorBanner {
    color: #b42318; background: rgba(240, 68, 56, 0.10);
    border: 1px solid rgba(240, 68, 56, 0.35); border-radius: 6px; padding: 6px 10px;
}
#composer { border-top: 1px solid rgba(127, 127, 127, 0.25); }
#sendButton { font-weight: 600; padding: 4px 16px; }
#settingsError { color: #b42318; }
#localOnlyButton {
    padding: 3px 8px; border: 1px solid rgba(127, 127, 127, 0.35); border-radius: 4px;
}
#localOnlyButton:checked {
    background: rgba(22, 163, 74, 0.15); border-color: rgba(22, 163, 74, 0.6);
}
#earlierButton { color: palette(link); }
"""
