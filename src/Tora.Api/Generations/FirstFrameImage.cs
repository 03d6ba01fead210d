using SkiaSharp;

namespace Tora.Api.Generations;

/// <summary>A decoded and checked first-frame image.</summary>
/// <param name="Bytes">The encoded bytes as received.</param>
/// <param name="Extension">File extension of the format (<c>png</c>, <c>jpg</c>, <c>webp</c>).</param>
/// <param name="ContentType">Its media type.</param>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
public sealed record FirstFrameImage(byte[] Bytes, string Extension, string ContentType, int Width, int Height)
{
    /// <summary>Largest encoded image accepted.</summary>
    public const int MaxBytes = 10 * 1024 * 1024;
    /// <summary>Largest side accepted (decoding is bounded before any pixel memory is allocated).</summary>
    public const int MaxSide = 4096;
    /// <summary>Smallest side accepted.</summary>
    public const int MinSide = 16;

    /// <summary>Parses a <c>data:image/…;base64,…</c> URI; returns the image or an error (code, detail).</summary>
    public static (FirstFrameImage? Image, string? Code, string? Detail) FromDataUri(string uri)
    {
        const string prefix = "data:";
        var comma = uri.IndexOf(',');
        if (!uri.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) || comma < 0)
            return (null, "invalid_data_uri", "image must be a data URI like data:image/png;base64,...");
        var meta = uri[prefix.Length..comma];
        if (!meta.EndsWith(";base64", StringComparison.OrdinalIgnoreCase))
            return (null, "invalid_data_uri", "image data URI must be base64-encoded (';base64,')");
        var payload = uri.AsSpan(comma + 1);
        if (payload.Length > (MaxBytes + 2) / 3 * 4 + 4)
            return (null, "image_too_large", $"image is larger than {MaxBytes / (1024 * 1024)} MB");
        var bytes = new byte[payload.Length * 3 / 4 + 3];
        if (!Convert.TryFromBase64Chars(payload, bytes, out var written))
            return (null, "invalid_data_uri", "image data URI has invalid base64");
        return Decode(bytes.AsSpan(0, written).ToArray());
    }

    /// <summary>Checks encoded bytes: size cap, a supported format, dimensions, and a full decode.</summary>
    public static (FirstFrameImage? Image, string? Code, string? Detail) Decode(byte[] bytes)
    {
        if (bytes.Length > MaxBytes) return (null, "image_too_large", $"image is larger than {MaxBytes / (1024 * 1024)} MB");
        if (bytes.Length == 0) return (null, "invalid_image", "image is empty");
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data);
        if (codec is null) return (null, "invalid_image", "image is not a PNG, JPEG or WebP file that can be decoded");
        var (ext, type) = codec.EncodedFormat switch
        {
            SKEncodedImageFormat.Png => ("png", "image/png"),
            SKEncodedImageFormat.Jpeg => ("jpg", "image/jpeg"),
            SKEncodedImageFormat.Webp => ("webp", "image/webp"),
            var other => (null, other.ToString()),
        };
        if (ext is null) return (null, "unsupported_image_format", $"image format {type} is not supported; use PNG, JPEG or WebP");
        var info = codec.Info;
        if (info.Width > MaxSide || info.Height > MaxSide)
            return (null, "image_too_large", $"image is {info.Width}x{info.Height}; the largest side allowed is {MaxSide}");
        if (info.Width < MinSide || info.Height < MinSide)
            return (null, "image_too_small", $"image is {info.Width}x{info.Height}; the smallest side allowed is {MinSide}");
        using var bitmap = new SKBitmap(new SKImageInfo(info.Width, info.Height, SKColorType.Rgba8888, SKAlphaType.Premul));
        var result = codec.GetPixels(bitmap.Info, bitmap.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput) || result == SKCodecResult.IncompleteInput)
            return (null, "invalid_image", $"image could not be decoded ({result})");
        return (new FirstFrameImage(bytes, ext, type, info.Width, info.Height), null, null);
    }
}
