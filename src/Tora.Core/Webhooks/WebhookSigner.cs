using System.Security.Cryptography;
using System.Text;

namespace Tora.Core.Webhooks;

/// <summary>
/// Standard Webhooks v1 symmetric signatures (docs/architecture.md §6): the signed content is
/// <c>{webhook-id}.{webhook-timestamp}.{raw body}</c>, the signature is <c>v1,</c> + base64 HMAC-SHA256 with the
/// secret's bytes, and several signatures are space-separated (one per secret during a rotation).
/// </summary>
public static class WebhookSigner
{
    /// <summary>Prefix of secrets as shown to tenants.</summary>
    public const string SecretPrefix = "whsec_";

    /// <summary>The event types a request can subscribe to.</summary>
    public static IReadOnlyList<string> EventTypes { get; } =
        ["generation.queued", "generation.running", "generation.succeeded", "generation.failed", "generation.cancelled"];

    /// <summary>A secret's display form: <c>whsec_</c> + base64 of its bytes.</summary>
    public static string Format(byte[] secret) => SecretPrefix + Convert.ToBase64String(secret);

    /// <summary>The bytes of a <c>whsec_</c> secret.</summary>
    public static byte[] Parse(string secret) =>
        Convert.FromBase64String(secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret);

    /// <summary>One <c>v1,&lt;base64&gt;</c> signature.</summary>
    public static string Sign(byte[] secret, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{id}.{timestamp}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(secret, content));
    }

    /// <summary>The <c>webhook-signature</c> header value: one signature per secret, space-separated.</summary>
    public static string Header(IEnumerable<byte[]> secrets, string id, long timestamp, ReadOnlySpan<byte> body)
    {
        var parts = new List<string>();
        foreach (var s in secrets) parts.Add(Sign(s, id, timestamp, body));
        return string.Join(' ', parts);
    }

    /// <summary>
    /// Receiver-side check (used by tests and offered to .NET clients): true when one of the header's <c>v1</c>
    /// signatures matches (constant-time compare) and the timestamp is within <paramref name="tolerance"/> of now.
    /// </summary>
    public static bool Verify(string secret, string id, string timestamp, string signatureHeader, ReadOnlySpan<byte> body, TimeSpan tolerance)
    {
        if (!long.TryParse(timestamp, out var ts)) return false;
        if (Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - ts) > tolerance.TotalSeconds) return false;
        var expected = Encoding.ASCII.GetBytes(Sign(Parse(secret), id, ts, body));
        foreach (var candidate in signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(candidate), expected)) return true;
        return false;
    }
}
