# npsdiag collect: the installed NPS extension, for the report and the version-dependent checks.
# Read by npsdiag/collect/powershell.py, which runs it between a prelude (stop on errors) and an
# epilogue (print $document as ASCII-only JSON). Output layout: npsdiag/sources/extension_info.py.
# Programs and Features' uninstall entries (both registry views) rather than Win32_Product, which
# makes Windows Installer verify every installed package.

$uninstall = @(
    'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Uninstall\*',
    'HKLM:\SOFTWARE\WOW6432Node\Microsoft\Windows\CurrentVersion\Uninstall\*'
)
$products = @(Get-ItemProperty -Path $uninstall -ErrorAction SilentlyContinue |
    Where-Object { $_.DisplayName -like 'NPS Extension*' } |
    ForEach-Object {
        [ordered]@{
            name = [string]$_.DisplayName
            version = [string]$_.DisplayVersion
            publisher = [string]$_.Publisher
            install_date = [string]$_.InstallDate
        }
    })
$folder = Join-Path $env:ProgramFiles 'Microsoft\AzureMfa\Extensions'
$files = @(foreach ($name in 'MfaNpsAuthzExt.dll', 'MfaNpsAuthnExt.dll') {
    $path = Join-Path $folder $name
    $version = $null
    if (Test-Path -LiteralPath $path) {
        $version = [string](Get-Item -LiteralPath $path).VersionInfo.FileVersion
    }
    [ordered]@{ path = $path; version = $version }
})
$document = [ordered]@{
    schema = 'npsdiag/extension/1'
    collected = [DateTime]::UtcNow.ToString('o')
    products = $products
    files = $files
}
