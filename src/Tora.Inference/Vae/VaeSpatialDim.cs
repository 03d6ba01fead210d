using System.Globalization;

namespace Tora.Inference.Vae;

/// <summary>
/// A spatial size inside a VAE chunk graph, named relative to the graph input's: <c>latent_height</c>,
/// <c>latent_height*4</c> (four times it: a decoder level after two upsamplers), <c>height/2</c> (half the
/// input's: an encoder level after one downsampler). The graphs declare these names as symbolic ONNX
/// dimensions, so one graph runs at any size (a whole frame or a tile, docs/vae-tiling.md) and
/// <see cref="CausalChunkRunner"/> can size each cache from the input it is given.
/// </summary>
/// <param name="Base">The input dimension this size is relative to.</param>
/// <param name="Multiplier">Times the base (≥ 1).</param>
/// <param name="Divisor">Divided by (≥ 1); exactly one of the two is 1 in the names the compiler writes.</param>
public readonly record struct VaeSpatialDim(string Base, int Multiplier, int Divisor = 1)
{
    /// <summary>The decoder input's latent height.</summary>
    public const string LatentHeight = "latent_height";

    /// <summary>The decoder input's latent width.</summary>
    public const string LatentWidth = "latent_width";

    /// <summary>The encoder input's video height.</summary>
    public const string Height = "height";

    /// <summary>The encoder input's video width.</summary>
    public const string Width = "width";

    /// <summary>The symbolic dimension name.</summary>
    public string Symbol =>
        Multiplier == 1 && Divisor == 1 ? Base
        : Divisor == 1 ? $"{Base}*{Multiplier.ToString(CultureInfo.InvariantCulture)}"
        : Multiplier == 1 ? $"{Base}/{Divisor.ToString(CultureInfo.InvariantCulture)}"
        : $"{Base}*{Multiplier.ToString(CultureInfo.InvariantCulture)}/{Divisor.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>This size scaled up by <paramref name="factor"/>.</summary>
    public VaeSpatialDim Times(int factor) => Reduce(this with { Multiplier = Multiplier * factor });

    /// <summary>This size scaled down by <paramref name="factor"/>.</summary>
    public VaeSpatialDim Over(int factor) => Reduce(this with { Divisor = Divisor * factor });

    /// <summary>The size when the base is <paramref name="baseSize"/>.</summary>
    /// <exception cref="ArgumentException">The base size does not divide exactly.</exception>
    public int Resolve(long baseSize)
    {
        long scaled = baseSize * Multiplier;
        if (scaled % Divisor != 0)
            throw new ArgumentException($"{Base} = {baseSize} is not a multiple of {Divisor} ({Symbol})");
        return checked((int)(scaled / Divisor));
    }

    /// <summary>Reads a name written by <see cref="Symbol"/>; false for any other name.</summary>
    public static bool TryParse(string? symbol, out VaeSpatialDim dim)
    {
        dim = default;
        if (string.IsNullOrEmpty(symbol)) return false;
        int multiplier = 1, divisor = 1;
        var name = symbol;
        int slash = name.IndexOf('/');
        if (slash >= 0)
        {
            if (!int.TryParse(name.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out divisor) || divisor < 1) return false;
            name = name[..slash];
        }
        int star = name.IndexOf('*');
        if (star >= 0)
        {
            if (!int.TryParse(name.AsSpan(star + 1), NumberStyles.None, CultureInfo.InvariantCulture, out multiplier) || multiplier < 1) return false;
            name = name[..star];
        }
        if (name.Length == 0) return false;
        dim = new VaeSpatialDim(name, multiplier, divisor);
        return true;
    }

    private static VaeSpatialDim Reduce(VaeSpatialDim d)
    {
        int g = (int)System.Numerics.BigInteger.GreatestCommonDivisor(d.Multiplier, d.Divisor);
        return d with { Multiplier = d.Multiplier / g, Divisor = d.Divisor / g };
    }
}
