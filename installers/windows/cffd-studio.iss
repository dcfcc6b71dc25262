; Inno Setup 6 script: a Windows installer for the one-folder build of CFFD Studio.
; First build the folder (installers/README.md, "Windows"), then, from the checkout:
;     iscc /DAppVersion=0.1.0 installers\windows\cffd-studio.iss
; Relative paths are relative to this file. Not built or tested on Windows yet.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef Flavour
  #define Flavour "cpu"
#endif
#define BuildDir "..\.build"
#define SourceDir BuildDir + "\dist-" + Flavour + "\cffd-studio"

[Setup]
AppId={{6B0F3C1E-5C3A-4D7E-9E21-0C7FD0A5E001}
AppName=CFFD Studio
AppVersion={#AppVersion}
AppVerName=CFFD Studio {#AppVersion}
AppPublisher=CFFD Studio
DefaultDirName={autopf}\CFFD Studio
DefaultGroupName=CFFD Studio
DisableProgramGroupPage=yes
; Installs for the current user without administrator rights; the dialog offers all users.
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#BuildDir}\installer
OutputBaseFilename=cffd-studio-{#AppVersion}-windows-x64-{#Flavour}-setup
SetupIconFile={#BuildDir}\icons\cffd-studio.ico
UninstallDisplayIcon={app}\cffd-studio.exe
WizardStyle=modern
; torch's libraries are large and already dense: solid LZMA2 gains little and costs minutes.
Compression=lzma2/fast
SolidCompression=no
ChangesEnvironment=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the cffd command to PATH (this user)"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\CFFD Studio"; Filename: "{app}\cffd-studio.exe"
Name: "{autodesktop}\CFFD Studio"; Filename: "{app}\cffd-studio.exe"; Tasks: desktopicon

[Registry]
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; \
  Tasks: addtopath; Check: NotOnPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\cffd-studio.exe"; Description: "{cm:LaunchProgram,CFFD Studio}"; Flags: nowait postinstall skipifsilent

[Code]
function NotOnPath(Dir: string): Boolean;
var
  Path: string;
begin
  if not RegQueryStringValue(HKEY_CURRENT_USER, 'Environment', 'Path', Path) then
    Path := '';
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Path) + ';') = 0;
end;
