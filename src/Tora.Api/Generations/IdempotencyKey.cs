using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;
using Tora.Api.Problems;

namespace Tora.Api.Generations;

/// <summary>
/// The <c>Idempotency-Key</c> request header (draft-ietf-httpapi-idempotency-key-header): a structured-field string
/// (quoted; a bare token is accepted too) of 1–255 printable ASCII characters, UUIDs recommended.
/// </summary>
public static class IdempotencyKey
{
    /// <summary>The request header.</summary>
    public const string Header = "Idempotency-Key";
    /// <summary>The response header marking a replayed response.</summary>
    public const string ReplayedHeader = "Idempotent-Replayed";
    /// <summary>Longest key.</summary>
    public const int MaxLength = 255;

    /// <summary>The key of a request (null when absent), or the problem to answer.</summary>
    public static (string? Key, ProblemHttpResult? Problem) Read(HttpRequest http)
    {
        var values = http.Headers[Header];
        if (values.Count == 0) return (null, null);
        var raw = values.Count == 1 ? values[0]!.Trim() : null;
        if (raw is { Length: >= 2 } && raw[0] == '"' && raw[^1] == '"') raw = raw[1..^1];
        if (raw is null || raw.Length is 0 or > MaxLength || raw.Any(c => c is < ' ' or > '~' or '"' or '\\'))
            return (null, ApiProblem.BadRequest("invalid_idempotency_key",
                $"Idempotency-Key must be one string of 1 to {MaxLength} printable ASCII characters (a UUID is recommended)"));
        return (raw, null);
    }

    /// <summary>
    /// The payload fingerprint: SHA-256 over the parsed request in canonical JSON, the image bytes and the flow video bytes, so a retry
    /// matches whatever the JSON whitespace, key order or multipart boundary of the resend.
    /// </summary>
    public static byte[] Fingerprint(CreateGenerationRequest request, FirstFrameImage? image, byte[]? flowVideo = null)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var canonical = request with
        {
            Image = null,
            Metadata = request.Metadata is null ? null : new Dictionary<string, string?>(request.Metadata.OrderBy(e => e.Key, StringComparer.Ordinal)),
        };
        hash.AppendData(JsonSerializer.SerializeToUtf8Bytes(canonical, CreateRequestReader.Json));
        hash.AppendData([0]);
        if (image is not null) hash.AppendData(image.Bytes);
        if (flowVideo is not null)
        {
            // Length-prefixed, so that no image/flow split of the same bytes fingerprints alike; requests without a flow
            // video keep the fingerprint they always had.
            hash.AppendData(BitConverter.GetBytes((long)(image?.Bytes.Length ?? -1)));
            hash.AppendData(flowVideo);
        }
        return hash.GetHashAndReset();
    }
}
