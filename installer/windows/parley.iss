; Inno Setup 6 script: a per-user installer for the PyInstaller folder dist\parley.
; Build: iscc /DAppVersion=0.1.0 installer\windows\parley.iss   (from the repo root)
; Installs to %LOCALAPPDATA%\Programs\Parley without admin rights, adds a Start-menu
; entry (parley.exe, the window) and an uninstaller; parley-cli.exe is the console CLI. The user's data (%LOCALAPPDATA%\Parley) is never removed.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define RepoRoot AddBackslash(SourcePath) + "..\.."

[Setup]
AppId={{6C4E8B51-7A0F-4E39-9D1B-2F3A5C7D9E10}
AppName=Parley
AppVersion={#AppVersion}
AppVerName=Parley {#AppVersion}
AppPublisher=Parley developers
VersionInfoVersion={#AppVersion}
; per-user: no UAC prompt; {autopf} is %LOCALAPPDATA%\Programs in this mode
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\Parley
DefaultGroupName=Parley
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
SetupIconFile={#RepoRoot}\resources\icons\parley.ico
UninstallDisplayIcon={app}\parley.exe
UninstallDisplayName=Parley
OutputDir={#RepoRoot}\dist
OutputBaseFilename=Parley-{#AppVersion}-setup
Compression=lzma2
SolidCompression=yes
WizardStyle=modern

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#RepoRoot}\dist\parley\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\Parley"; Filename: "{app}\parley.exe"; IconFilename: "{app}\parley.exe"
Name: "{autodesktop}\Parley"; Filename: "{app}\parley.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\parley.exe"; Description: "{cm:LaunchProgram,Parley}"; Flags: nowait postinstall skipifsilent

; No [UninstallDelete] for user data: removing Parley leaves conversations, the ledger and
; models in %LOCALAPPDATA%\Parley untouched.
