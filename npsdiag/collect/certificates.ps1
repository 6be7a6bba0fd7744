# npsdiag collect: list Cert:\LocalMachine\My for the NPS extension's certificate check.
# Read by npsdiag/collect/powershell.py, which runs it between a prelude (stop on errors) and an
# epilogue (print $document as ASCII-only JSON). Metadata only: a private key is opened to learn
# where it is stored, never exported. Output layout: npsdiag/sources/certificates.py.

# Who may open a private key's file: its storage and access rules (SID, Allow/Deny, rights).
function Get-KeyAccess($cert) {
    $result = [ordered]@{ storage = $null; error = $null; access = $null }
    try {
        $rsa = [System.Security.Cryptography.X509Certificates.RSACertificateExtensions]::GetRSAPrivateKey($cert)
        if ($rsa -is [System.Security.Cryptography.RSACng]) {
            $result.storage = 'cng'
            $name = $rsa.Key.UniqueName
            $file = Join-Path $env:ProgramData "Microsoft\Crypto\Keys\$name"
        } elseif ($rsa -is [System.Security.Cryptography.RSACryptoServiceProvider]) {
            $result.storage = 'csp'
            $name = $rsa.CspKeyContainerInfo.UniqueKeyContainerName
            $file = Join-Path $env:ProgramData "Microsoft\Crypto\RSA\MachineKeys\$name"
        } else {
            $result.error = 'not an RSA key: its access rules are not listed'
            return $result
        }
        $sidType = [System.Security.Principal.SecurityIdentifier]
        $rules = @()
        foreach ($rule in (Get-Acl -LiteralPath $file).Access) {
            $rules += [ordered]@{
                sid = $rule.IdentityReference.Translate($sidType).Value
                type = [string]$rule.AccessControlType
                rights = [int64][int]$rule.FileSystemRights
            }
        }
        $result.access = $rules
    } catch {
        $result.error = $_.Exception.Message
    }
    return $result
}

$ekuType = [System.Security.Cryptography.X509Certificates.X509EnhancedKeyUsageExtension]
$settings = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\AzureMfa' -ErrorAction SilentlyContinue
$certificates = @(foreach ($cert in Get-ChildItem -Path 'Cert:\LocalMachine\My') {
    $usages = $null
    foreach ($extension in $cert.Extensions) {
        if ($extension -is $ekuType) {
            $usages = @($extension.EnhancedKeyUsages | ForEach-Object { $_.Value })
        }
    }
    $key = $null
    if ($cert.HasPrivateKey) { $key = Get-KeyAccess $cert }
    [ordered]@{
        thumbprint = $cert.Thumbprint
        subject = $cert.Subject
        issuer = $cert.Issuer
        not_before = $cert.NotBefore.ToUniversalTime().ToString('o')
        not_after = $cert.NotAfter.ToUniversalTime().ToString('o')
        has_private_key = $cert.HasPrivateKey
        enhanced_key_usages = $usages
        private_key = $key
    }
})
$document = [ordered]@{
    schema = 'npsdiag/certificates/1'
    collected = [DateTime]::UtcNow.ToString('o')
    store = 'LocalMachine\My'
    azure_mfa = [ordered]@{
        tenant_id = [string]$settings.TENANT_ID
        client_cert_identifier = [string]$settings.CLIENT_CERT_IDENTIFIER
    }
    certificates = $certificates
}
