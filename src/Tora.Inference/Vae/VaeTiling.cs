using System.Globalization;

namespace Tora.Inference.Vae;

/// <summary>
/// Tiled VAE encode and decode as diffusers' <c>AutoencoderKLCogVideoX</c> does them after <c>enable_tiling()</c>
/// (docs/vae-tiling.md): the frame is cut into overlapping tiles of <see cref="TileHeight"/> × <see cref="TileWidth"/>
/// pixels, each tile runs through the VAE on its own (frames in the usual chunks, caches per tile), and each tile
/// is blended linearly into the one above and the one to its left before the overlap is cropped away.
/// </summary>
/// <param name="TileHeight">Tile height in pixels (diffusers' <c>tile_sample_min_height</c>).</param>
/// <param name="TileWidth">Tile width in pixels (diffusers' <c>tile_sample_min_width</c>).</param>
public sealed record VaeTiling(int TileHeight, int TileWidth)
{
    /// <summary>diffusers' <c>tile_overlap_factor_height</c>.</summary>
    public const double OverlapFactorHeight = 1.0 / 6;

    /// <summary>diffusers' <c>tile_overlap_factor_width</c>.</summary>
    public const double OverlapFactorWidth = 1.0 / 5;

    /// <summary>diffusers' default tile: half the frame's height and width (240 × 360 for 480 × 720).</summary>
    public static VaeTiling HalfFrame(int height, int width) => new(height / 2, width / 2);

    /// <summary>Reads <c>HxW</c> (pixels, e.g. <c>240x360</c>).</summary>
    /// <exception cref="FormatException">Not two positive integers joined by <c>x</c>.</exception>
    public static VaeTiling Parse(string text)
    {
        var parts = text.Trim().Split('x', 'X');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int h)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int w) && h > 0 && w > 0)
            return new VaeTiling(h, w);
        throw new FormatException($"the VAE tile size must be HxW in pixels (e.g. 240x360), got '{text}'");
    }

    /// <summary>The decode tiles over latents of <paramref name="latentHeight"/> × <paramref name="latentWidth"/>.</summary>
    /// <param name="latentHeight">Latent height.</param>
    /// <param name="latentWidth">Latent width.</param>
    /// <param name="spatialScale">Pixels per latent (8).</param>
    public VaeTilePlan PlanDecode(int latentHeight, int latentWidth, int spatialScale) => new(
        VaeTileAxis.ForDecode(latentHeight, TileHeight, OverlapFactorHeight, spatialScale),
        VaeTileAxis.ForDecode(latentWidth, TileWidth, OverlapFactorWidth, spatialScale));

    /// <summary>The encode tiles over video of <paramref name="height"/> × <paramref name="width"/> pixels.</summary>
    /// <param name="height">Video height.</param>
    /// <param name="width">Video width.</param>
    /// <param name="spatialScale">Pixels per latent (8).</param>
    public VaeTilePlan PlanEncode(int height, int width, int spatialScale) => new(
        VaeTileAxis.ForEncode(height, TileHeight, OverlapFactorHeight, spatialScale),
        VaeTileAxis.ForEncode(width, TileWidth, OverlapFactorWidth, spatialScale));

    /// <summary>
    /// Refuses a tile size whose tiles would not give back exactly the frame (and its latents) of a
    /// <paramref name="height"/> × <paramref name="width"/> video, in encode and decode alike.
    /// </summary>
    /// <exception cref="ArgumentException">One line saying what the tiles would give instead.</exception>
    public void EnsureCovers(int height, int width, int spatialScale)
    {
        if (height % spatialScale != 0 || width % spatialScale != 0)
            throw new ArgumentException($"the video size {height}x{width} is not a multiple of the VAE's {spatialScale}");
        var decode = PlanDecode(height / spatialScale, width / spatialScale, spatialScale);
        if (decode.IsTiled && (decode.OutputHeight != height || decode.OutputWidth != width))
            throw new ArgumentException($"VAE tiles of {TileHeight}x{TileWidth} do not cover the {height}x{width} frame exactly "
                + $"(diffusers' tile arithmetic gives {Describe(decode.Rows)}x{Describe(decode.Columns)} pixels); pick another tile size");
        var encode = PlanEncode(height, width, spatialScale);
        if (encode.IsTiled && (encode.OutputHeight != height / spatialScale || encode.OutputWidth != width / spatialScale))
            throw new ArgumentException($"VAE tiles of {TileHeight}x{TileWidth} do not encode the {height}x{width} frame exactly "
                + $"(diffusers' tile arithmetic gives {Describe(encode.Rows)}x{Describe(encode.Columns)} latents, not {height / spatialScale}x{width / spatialScale}); pick another tile size");
    }

    /// <inheritdoc />
    public override string ToString() => $"{TileHeight}x{TileWidth}";

    private static string Describe(VaeTileAxis axis) => axis.Valid ? axis.OutputLength.ToString(CultureInfo.InvariantCulture) : "no whole tiles";
}

/// <summary>One tile along one axis: input <c>[Start, Start + Length)</c>, giving <see cref="OutputLength"/> values.</summary>
/// <param name="Start">First input row (or column).</param>
/// <param name="Length">Input rows in the tile.</param>
/// <param name="OutputLength">Rows the VAE gives for it.</param>
public readonly record struct VaeTileSpan(int Start, int Length, int OutputLength);

/// <summary>
/// diffusers' tile arithmetic along one axis, in its own float64 expressions: tiles start every <c>overlap</c>
/// inputs (<c>int(tile_in · (1 − factor))</c>), each blends its first <c>blend</c> outputs
/// (<c>int(tile_out · factor)</c>) with the tile before and keeps its first <c>limit = tile_out − blend</c>.
/// </summary>
public sealed class VaeTileAxis
{
    private VaeTileAxis(int inputLength, int tileInput, int overlap, int blend, int limit, Func<int, int?> outputOf)
    {
        InputLength = inputLength;
        TileInput = tileInput;
        Blend = blend;
        Limit = limit;
        var spans = new List<VaeTileSpan>();
        Valid = tileInput > 0 && overlap > 0;
        if (Valid)
            for (int start = 0; start < inputLength; start += overlap)
            {
                int length = Math.Min(tileInput, inputLength - start);
                if (outputOf(length) is not int output) { Valid = false; break; }
                spans.Add(new VaeTileSpan(start, length, output));
            }
        Tiles = spans;
        OutputLength = Valid ? spans.Sum(s => Math.Min(limit, s.OutputLength)) : 0;
    }

    /// <summary>Input length along this axis.</summary>
    public int InputLength { get; }

    /// <summary>Input rows of a whole tile (diffusers' <c>tile_latent_min_*</c> in decode, <c>tile_sample_min_*</c> in encode).</summary>
    public int TileInput { get; }

    /// <summary>Output rows blended with the previous tile.</summary>
    public int Blend { get; }

    /// <summary>Output rows kept from each tile.</summary>
    public int Limit { get; }

    /// <summary>The tiles in order.</summary>
    public IReadOnlyList<VaeTileSpan> Tiles { get; }

    /// <summary>False when diffusers' loop could not run (a zero step) or a tile would not map to whole outputs.</summary>
    public bool Valid { get; }

    /// <summary>Output length of the assembled axis.</summary>
    public int OutputLength { get; }

    /// <summary>Decode: latent tiles of <c>int(tile / scale)</c>, each giving <c>length · scale</c> pixels.</summary>
    internal static VaeTileAxis ForDecode(int latentLength, int tileSample, double factor, int scale)
    {
        int tileLatent = (int)(tileSample / (double)scale);
        return new VaeTileAxis(latentLength, tileLatent, (int)(tileLatent * (1 - factor)), (int)(tileSample * factor),
            tileSample - (int)(tileSample * factor), length => length * scale);
    }

    /// <summary>Encode: pixel tiles of <c>tile</c>, each giving <c>length / scale</c> latents (whole latents only).</summary>
    internal static VaeTileAxis ForEncode(int sampleLength, int tileSample, double factor, int scale)
    {
        int tileLatent = (int)(tileSample / (double)scale);
        return new VaeTileAxis(sampleLength, tileSample, (int)(tileSample * (1 - factor)), (int)(tileLatent * factor),
            tileLatent - (int)(tileLatent * factor), length => length % scale == 0 ? length / scale : null);
    }
}

/// <summary>The tiles of one tiled encode or decode: rows × columns.</summary>
/// <param name="Rows">Tiles along the height.</param>
/// <param name="Columns">Tiles along the width.</param>
public sealed record VaeTilePlan(VaeTileAxis Rows, VaeTileAxis Columns)
{
    /// <summary>diffusers tiles only when the input is larger than one tile in height or width.</summary>
    public bool IsTiled => Rows.InputLength > Rows.TileInput || Columns.InputLength > Columns.TileInput;

    /// <summary>Height of the assembled output.</summary>
    public int OutputHeight => Rows.OutputLength;

    /// <summary>Width of the assembled output.</summary>
    public int OutputWidth => Columns.OutputLength;
}
