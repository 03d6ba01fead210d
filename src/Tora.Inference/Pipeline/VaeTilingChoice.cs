using System.ComponentModel;
using System.Globalization;
using Tora.Inference.Vae;

namespace Tora.Inference.Pipeline;

/// <summary>
/// Whether the VAE encodes and decodes tile by tile (<see cref="VaeTiling"/>, docs/vae-tiling.md): <c>off</c>,
/// <c>auto</c> (the default: diffusers' half-frame tiles in low-memory mode when they cover the frame exactly,
/// whole frames otherwise), <c>on</c> (half-frame tiles, refused when they do not cover the frame) or a tile
/// size <c>HxW</c> in pixels.
/// </summary>
[TypeConverter(typeof(Converter))]
public sealed record VaeTilingChoice
{
    private VaeTilingChoice(string text, VaeTiling? size) => (Text, Size) = (text, size);

    /// <summary>Whole frames.</summary>
    public static VaeTilingChoice Off { get; } = new("off", null);

    /// <summary>Half-frame tiles in low-memory mode when they cover the frame, else whole frames.</summary>
    public static VaeTilingChoice Auto { get; } = new("auto", null);

    /// <summary>diffusers' default tiles (half the frame height and width).</summary>
    public static VaeTilingChoice HalfFrame { get; } = new("on", null);

    /// <summary>Tiles of the given size.</summary>
    public static VaeTilingChoice Of(VaeTiling size) => new(size.ToString(), size);

    /// <summary>The setting as written (<c>off</c>, <c>auto</c>, <c>on</c>, <c>HxW</c>).</summary>
    public string Text { get; }

    /// <summary>The explicit tile size, if any.</summary>
    public VaeTiling? Size { get; }

    /// <summary>Reads <c>off</c>, <c>auto</c>, <c>on</c> or <c>HxW</c>.</summary>
    /// <exception cref="FormatException">Anything else (one line).</exception>
    public static VaeTilingChoice Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "off" or "false" => Off,
        "auto" or "" => Auto,
        "on" or "true" => HalfFrame,
        _ => Of(VaeTiling.Parse(text)),
    };

    /// <summary>
    /// The tiles for a <paramref name="height"/> × <paramref name="width"/> package, or null for whole frames.
    /// </summary>
    /// <exception cref="ArgumentException">Tiles that were asked for and do not cover the frame exactly (one line).</exception>
    public VaeTiling? Resolve(int height, int width, int spatialScale, bool lowMemory, Action<string> log)
    {
        if (this == Off || (this == Auto && !lowMemory)) return null;
        var tiling = Size ?? VaeTiling.HalfFrame(height, width);
        if (this == Auto)
        {
            try
            {
                tiling.EnsureCovers(height, width, spatialScale);
            }
            catch (ArgumentException e)
            {
                log($"VAE tiling off: {e.Message}");
                return null;
            }
        }
        else tiling.EnsureCovers(height, width, spatialScale);
        log($"VAE tiling: {tiling} pixel tiles");
        return tiling;
    }

    /// <inheritdoc />
    public override string ToString() => Text;

    /// <summary>Reads the setting from configuration text (typed options bind it through this), as <see cref="Parse"/>.</summary>
    private sealed class Converter : TypeConverter
    {
        public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) =>
            sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

        public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value) =>
            value is string text ? Parse(text) : base.ConvertFrom(context, culture, value);
    }
}
