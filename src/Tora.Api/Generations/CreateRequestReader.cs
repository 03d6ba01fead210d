using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Tora.Api.Problems;

using Tora.Motion;

namespace Tora.Api.Generations;

/// <summary>
/// Reads <c>POST /v1/generations</c> bodies itself (JSON, or multipart with <c>request</c>, <c>image</c> and <c>flow_video</c> parts), so
/// every way a body can be wrong becomes a 4xx problem with a pointer instead of the framework's generic 400.
/// </summary>
public static class CreateRequestReader
{
    /// <summary>Largest body accepted: a 10 MB image as base64 plus the rest of the request.</summary>
    public const long MaxBodyBytes = 16 * 1024 * 1024;

    /// <summary>Strict JSON: unknown fields and mistyped values are errors, not silently ignored.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        // Field names are the records' property names in snake_case, as in every answer (one rule, no per-field names).
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
        MaxDepth = 16,
    };

    /// <summary>The parsed request and image, or the problem to answer.</summary>
    public static async Task<(CreateGenerationRequest? Request, FirstFrameImage? Image, byte[]? FlowVideo, ProblemHttpResult? Problem)> ReadAsync(
        HttpRequest http, CancellationToken ct)
    {
        if (http.ContentLength > MaxBodyBytes) return (null, null, null, TooLarge());
        var mediaType = http.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        try
        {
            return mediaType switch
            {
                "application/json" => WithoutFlowVideo(await ReadJsonAsync(http, ct)),
                "multipart/form-data" => await ReadMultipartAsync(http, ct),
                _ => (null, null, null, ApiProblem.Create(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type",
                    "Unsupported media type.", "send application/json, or multipart/form-data with a 'request' part and optional 'image' and 'flow_video' parts")),
            };
        }
        catch (BadHttpRequestException e) when (e.StatusCode == 413)
        {
            return (null, null, null, TooLarge());
        }
    }

    private static (CreateGenerationRequest?, FirstFrameImage?, byte[]?, ProblemHttpResult?) WithoutFlowVideo(
        (CreateGenerationRequest? Request, FirstFrameImage? Image, ProblemHttpResult? Problem) r) => (r.Request, r.Image, null, r.Problem);

    private static async Task<(CreateGenerationRequest?, FirstFrameImage?, ProblemHttpResult?)> ReadJsonAsync(HttpRequest http, CancellationToken ct)
    {
        var body = await ReadLimitedAsync(http.Body, ct);
        if (body is null) return (null, null, TooLarge());
        var (request, problem) = Parse<CreateGenerationRequest>(body);
        if (problem is not null) return (null, null, problem);
        FirstFrameImage? image = null;
        if (request!.Image is { } uri)
        {
            var (img, code, detail) = FirstFrameImage.FromDataUri(uri);
            if (img is null)
                return (null, null, code == "image_too_large" ? TooLarge(detail) : ApiProblem.Validation([new FieldError("/image", code!, detail!)]));
            image = img;
        }
        return (request, image, null);
    }

    private static async Task<(CreateGenerationRequest?, FirstFrameImage?, byte[]?, ProblemHttpResult?)> ReadMultipartAsync(HttpRequest http, CancellationToken ct)
    {
        var (form, formProblem) = await ReadFormAsync(http, 8, ["request", "image", "flow_video"], "'request' and optionally 'image' and 'flow_video'", ct);
        if (form is null) return (null, null, null, formProblem);

        string? json = form["request"].FirstOrDefault();
        if (json is null && form.Files.GetFile("request") is { } requestFile)
        {
            using var reader = new StreamReader(requestFile.OpenReadStream());
            json = await reader.ReadToEndAsync(ct);
        }
        if (json is null) return (null, null, null, ApiProblem.BadRequest("missing_part", "the multipart body needs a 'request' part holding the JSON request", "/request"));
        var (request, problem) = Parse<CreateGenerationRequest>(System.Text.Encoding.UTF8.GetBytes(json));
        if (problem is not null) return (null, null, null, problem);
        if (request!.Image is not null)
            return (null, null, null, ApiProblem.Validation([new FieldError("/image", "not_allowed", "in a multipart request send the image as the 'image' part, not as a data URI")]));

        FirstFrameImage? image = null;
        if (form.Files.GetFile("image") is { } file)
        {
            if (file.Length > FirstFrameImage.MaxBytes) return (null, null, null, TooLarge($"image is larger than {FirstFrameImage.MaxBytes / (1024 * 1024)} MB"));
            var (img, code, detail) = FirstFrameImage.Decode(await ReadAllBytesAsync(file, ct));
            if (img is null) return (null, null, null, ApiProblem.Validation([new FieldError("/image", code!, detail!)]));
            image = img;
        }
        else if (form.ContainsKey("image"))
            return (null, null, null, ApiProblem.Validation([new FieldError("/image", "invalid_image", "the 'image' part must be a file")]));

        byte[]? flowVideo = null;
        if (form.Files.GetFile("flow_video") is { } flowFile)
            flowVideo = await ReadAllBytesAsync(flowFile, ct);
        else if (form.ContainsKey("flow_video"))
            return (null, null, null, ApiProblem.Validation([new FieldError("/flow_video", "invalid_flow_video", "the 'flow_video' part must be a file (an MP4)")]));
        return (request, image, flowVideo, null);
    }

    /// <summary>
    /// Reads a multipart body of any endpoint (at most <see cref="MaxBodyBytes"/> and <paramref name="maxValues"/>
    /// values), or returns the problem to answer: a body too large, framing that cannot be read, or a part the endpoint
    /// does not take.
    /// </summary>
    /// <param name="http">The request.</param>
    /// <param name="maxValues">The most form values (parts) accepted.</param>
    /// <param name="parts">The names of the parts the endpoint takes.</param>
    /// <param name="expected">How the unknown-part answer tells the client what to send (for example <c>'request' and 'flow_video'</c>).</param>
    /// <param name="ct">Request aborted.</param>
    public static async Task<(IFormCollection? Form, ProblemHttpResult? Problem)> ReadFormAsync(
        HttpRequest http, int maxValues, IReadOnlyCollection<string> parts, string expected, CancellationToken ct)
    {
        IFormCollection form;
        try
        {
            form = await http.ReadFormAsync(new FormOptions
            {
                MultipartBodyLengthLimit = MaxBodyBytes,
                ValueLengthLimit = 1024 * 1024,
                ValueCountLimit = maxValues,
            }, ct);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return (null, TooLarge());
        }
        catch (IOException e) when (!http.HttpContext.RequestAborted.IsCancellationRequested)
        {
            // A truncated or malformed body is the client's error.
            return (null, InvalidMultipart(e));
        }
        catch (InvalidDataException e)
        {
            // Malformed multipart framing, or a form over the size limits.
            return (null, e.Message.Contains("limit", StringComparison.OrdinalIgnoreCase) ? TooLarge() : InvalidMultipart(e));
        }
        foreach (var key in form.Keys.Concat(form.Files.Select(f => f.Name)))
            if (!parts.Contains(key))
                return (null, ApiProblem.BadRequest("unknown_part", $"unexpected form part '{key}'; send {expected}", "/" + key));
        return (form, null);
    }

    /// <summary>The bytes of a file part (the form is already buffered, so this reads no network).</summary>
    public static async Task<byte[]> ReadAllBytesAsync(IFormFile file, CancellationToken ct)
    {
        using var ms = new MemoryStream((int)file.Length);
        await file.CopyToAsync(ms, ct);
        return ms.ToArray();
    }

    private static ProblemHttpResult InvalidMultipart(Exception e) =>
        ApiProblem.BadRequest("invalid_multipart", $"the multipart body could not be read: {e.Message}");

    /// <summary>Reads a strict JSON body of any endpoint (size cap, media type, typed errors with pointers).</summary>
    public static async Task<(T? Request, ProblemHttpResult? Problem)> ReadJsonBodyAsync<T>(HttpRequest http, CancellationToken ct) where T : class
    {
        if (http.ContentLength > MaxBodyBytes) return (null, TooLarge());
        var mediaType = http.ContentType?.Split(';')[0].Trim().ToLowerInvariant();
        if (mediaType != "application/json")
            return (null, ApiProblem.Create(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type", "Unsupported media type.", "send application/json"));
        try
        {
            var body = await ReadLimitedAsync(http.Body, ct);
            return body is null ? (null, TooLarge()) : Parse<T>(body);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == 413)
        {
            return (null, TooLarge());
        }
    }

    /// <summary>Parses a strict JSON document (a body, or a multipart part) with typed errors and pointers.</summary>
    public static (T?, ProblemHttpResult?) Parse<T>(byte[] body) where T : class
    {
        if (body.Length == 0) return (null, ApiProblem.BadRequest("invalid_json", "the body is empty; send a JSON object"));
        try
        {
            var request = JsonSerializer.Deserialize<T>(body, Json);
            return request is null
                ? (null, ApiProblem.BadRequest("invalid_json", "the body must be a JSON object, not null"))
                : (request, null);
        }
        catch (JsonException e)
        {
            var pointer = JsonPointer.FromPath(e.Path);
            var unknown = e.Message.Contains("could not be mapped", StringComparison.Ordinal);
            var typeError = pointer.Length > 0 && e.Message.Contains("could not be converted", StringComparison.Ordinal)
                && !e.Message.Contains("depth", StringComparison.Ordinal);
            var code = unknown ? "unknown_field" : typeError ? "invalid_type" : "invalid_json";
            var detail = unknown ? $"unknown field at {pointer}"
                : typeError ? $"the value at {pointer} has the wrong type"
                : pointer.Length == 0 ? "the body must be a JSON object"
                : $"the body is not valid JSON (near {pointer}, line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1})";
            return (null, ApiProblem.BadRequest(code, detail, pointer));
        }
    }

    /// <summary>
    /// Reads the whole body, or returns null once it passes <see cref="MaxBodyBytes"/>. The body is gathered in
    /// pooled 1 MB blocks and copied once into an array of its exact size, so an oversized body (say 64 MB streamed
    /// chunked, with no length to refuse it by) costs at most the cap in reused blocks, not a growing buffer that
    /// doubles past it.
    /// </summary>
    private static async Task<byte[]?> ReadLimitedAsync(Stream body, CancellationToken ct)
    {
        const int block = 1024 * 1024;
        var blocks = new List<byte[]>();
        long total = 0;
        try
        {
            while (true)
            {
                var current = System.Buffers.ArrayPool<byte>.Shared.Rent(block);
                blocks.Add(current);
                var filled = 0;
                while (filled < block)
                {
                    var read = await body.ReadAsync(current.AsMemory(filled, block - filled), ct);
                    if (read == 0)
                    {
                        var result = new byte[total];
                        for (var i = 0; i < blocks.Count; i++)
                            blocks[i].AsSpan(0, i < blocks.Count - 1 ? block : filled).CopyTo(result.AsSpan(i * block));
                        return result;
                    }
                    filled += read;
                    total += read;
                    if (total > MaxBodyBytes) return null;
                }
            }
        }
        finally
        {
            foreach (var b in blocks) System.Buffers.ArrayPool<byte>.Shared.Return(b);
        }
    }

    internal static ProblemHttpResult TooLarge(string? detail = null) =>
        ApiProblem.Create(StatusCodes.Status413PayloadTooLarge, "payload_too_large", "The request body is too large.",
            detail ?? $"the body is larger than {MaxBodyBytes / (1024 * 1024)} MB");
}
