<#
.SYNOPSIS
  Smoke test of evtxscan's live mode on a real Windows machine.

.DESCRIPTION
  Writes events with eventcreate into a log of its own (evtxscan-smoke, so
  no real log is cleared), then:
    1. live --once reads them (exit 0, a run folder, latest\run.txt);
    2. live --once again reads nothing new (exit 0, no new run folder,
       latest keeps the first run's reports: "no new events since");
    3. the log is cleared and refilled with fewer events; live --once
       notices the clear and reads the new events.
  It removes the log and its temporary folder at the end. Run it from an
  elevated Windows PowerShell 5.1 (New-EventLog is not in PowerShell 7):

    powershell -ExecutionPolicy Bypass -File scripts\windows-smoke.ps1 [-Exe .\evtxscan.exe]

  Without -Exe it builds evtxscan.exe with go build. Exit code 0: passed.
#>
param(
    [string]$Exe = ""
)

$ErrorActionPreference = "Stop"
Set-StrictMode -Version Latest

$LogName = "evtxscan-smoke"
$Work = Join-Path $env:TEMP ("evtxscan-smoke-" + [guid]::NewGuid().ToString("N"))
$State = Join-Path $Work "state.json"
$Out = Join-Path $Work "reports"
$script:Failures = 0

function Fail([string]$What) {
    Write-Host "FAIL: $What" -ForegroundColor Red
    $script:Failures++
}

function Pass([string]$What) {
    Write-Host "ok:   $What"
}

# Invoke-Live runs 'evtxscan live --once' on the smoke log and returns its
# exit code and stderr.
function Invoke-Live([string]$Name) {
    $errFile = Join-Path $Work "$Name.stderr.txt"
    $outFile = Join-Path $Work "$Name.stdout.txt"
    $argList = @("live", "--once", "--channel", $LogName, "--state", "`"$State`"",
        "--format", "jsonl", "--out", "`"$Out`"")
    $p = Start-Process -FilePath $Exe -ArgumentList $argList -NoNewWindow -Wait -PassThru `
        -RedirectStandardError $errFile -RedirectStandardOutput $outFile
    $stderr = Get-Content -Raw -LiteralPath $errFile
    if ($null -eq $stderr) { $stderr = "" }
    Write-Host "--- $Name (exit $($p.ExitCode)) ---"
    Write-Host $stderr
    return @{ Code = $p.ExitCode; Stderr = $stderr }
}

function Get-RunFolders {
    $runs = Join-Path $Out "runs"
    if (-not (Test-Path -LiteralPath $runs)) { return @() }
    return @(Get-ChildItem -LiteralPath $runs -Directory)
}

function Get-LatestIndex {
    $index = Join-Path $Out "latest\run.txt"
    if (-not (Test-Path -LiteralPath $index)) { return "" }
    return (Get-Content -Raw -LiteralPath $index)
}

function Write-SmokeEvents([int]$Count, [string]$Tag) {
    for ($i = 1; $i -le $Count; $i++) {
        & eventcreate.exe /L $LogName /SO $LogName /T ERROR /ID (100 + $i) /D "evtxscan smoke $Tag $i" | Out-Null
        if ($LASTEXITCODE -ne 0) {
            # Some editions' eventcreate accepts only Application and System:
            # the same event through the .NET event log API.
            Write-EventLog -LogName $LogName -Source $LogName -EntryType Error -EventId (100 + $i) -Message "evtxscan smoke $Tag $i"
        }
    }
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    Write-Host "Run this from an elevated prompt (Run as administrator): it creates and clears an event log." -ForegroundColor Red
    exit 2
}

New-Item -ItemType Directory -Path $Work | Out-Null
try {
    if ($Exe -eq "") {
        $Exe = Join-Path $Work "evtxscan.exe"
        & go build -o $Exe ./cmd/evtxscan
        if ($LASTEXITCODE -ne 0) { throw "go build failed: run from the repository root" }
    }
    $Exe = (Resolve-Path -LiteralPath $Exe).Path

    if ([System.Diagnostics.EventLog]::Exists($LogName)) { Remove-EventLog -LogName $LogName }
    New-EventLog -LogName $LogName -Source $LogName
    Write-SmokeEvents 3 "first"

    # 1. The first run reads the three events.
    $r = Invoke-Live "run1"
    if ($r.Code -eq 0) { Pass "first run exits 0" } else { Fail "first run exits $($r.Code), want 0" }
    if (@(Get-RunFolders).Count -eq 1) { Pass "first run has its folder under runs\" } else { Fail "run folders after the first run: $(@(Get-RunFolders).Count), want 1" }
    $index1 = Get-LatestIndex
    if ($index1 -match "(\d+) events read" -and [int]$Matches[1] -ge 3) { Pass "latest\run.txt: $($Matches[0])" } else { Fail "latest\run.txt after the first run: '$index1'" }

    # 2. Nothing new: nothing re-reported, the first run stays the latest.
    $r = Invoke-Live "run2"
    if ($r.Code -eq 0) { Pass "second run exits 0" } else { Fail "second run exits $($r.Code), want 0" }
    if (@(Get-RunFolders).Count -eq 1) { Pass "second run (nothing new) leaves no folder" } else { Fail "run folders after the second run: $(@(Get-RunFolders).Count), want 1 (events re-reported?)" }
    $index2 = Get-LatestIndex
    if ($index2 -match "no new events since that run") { Pass "latest keeps the first run's findings" } else { Fail "latest\run.txt after the second run: '$index2'" }

    # 3. Clear the log and write fewer events than before: the clear is noticed.
    & wevtutil.exe cl $LogName
    if ($LASTEXITCODE -ne 0) { throw "wevtutil cl $LogName failed (exit $LASTEXITCODE)" }
    Write-SmokeEvents 2 "after-clear"
    $r = Invoke-Live "run3"
    if ($r.Code -eq 0) { Pass "third run exits 0" } else { Fail "third run exits $($r.Code), want 0" }
    if ($r.Stderr -match "cleared") { Pass "third run reports the clear" } else { Fail "third run does not mention the cleared log" }
    if (@(Get-RunFolders).Count -eq 2) { Pass "third run has its folder" } else { Fail "run folders after the third run: $(@(Get-RunFolders).Count), want 2" }
    $index3 = Get-LatestIndex
    if ($index3 -match "(\d+) events read" -and [int]$Matches[1] -eq 2) { Pass "the two new events are read" } else { Fail "latest\run.txt after the clear: '$index3', want 2 events read" }
}
finally {
    if ([System.Diagnostics.EventLog]::Exists($LogName)) { Remove-EventLog -LogName $LogName }
    Remove-Item -Recurse -Force -LiteralPath $Work -ErrorAction SilentlyContinue
}

if ($script:Failures -gt 0) {
    Write-Host "$($script:Failures) check(s) failed" -ForegroundColor Red
    exit 1
}
Write-Host "all checks passed"
exit 0
