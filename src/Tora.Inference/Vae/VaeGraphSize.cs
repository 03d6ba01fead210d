using Microsoft.ML.OnnxRuntime;

namespace Tora.Inference.Vae;

/// <summary>Reads a VAE chunk graph's spatial scale from its declared input and output dimensions.</summary>
internal static class VaeGraphSize
{
    /// <summary>
    /// Pixels per latent between <paramref name="latent"/> (the decoder's input, the encoder's mean) and
    /// <paramref name="pixels"/> (the decoder's sample, the encoder's frames): from <see cref="VaeSpatialDim"/>
    /// names when the graph runs at any size, or from its fixed sizes.
    /// </summary>
    /// <exception cref="InvalidDataException">The graph's spatial dimensions are neither fixed nor VAE names.</exception>
    public static int Scale(NodeMetadata latent, NodeMetadata pixels)
    {
        int[] ld = latent.Dimensions, pd = pixels.Dimensions;
        if (ld[3] > 0 && ld[4] > 0 && pd[3] > 0 && pd[4] > 0)
        {
            if (pd[3] % ld[3] != 0 || pd[3] / ld[3] != pd[4] / ld[4] || pd[4] % ld[4] != 0)
                throw new InvalidDataException($"VAE graph maps {ld[3]}x{ld[4]} latents to {pd[3]}x{pd[4]} pixels: no single scale");
            return (int)(pd[3] / ld[3]);
        }
        int? height = Ratio(latent.SymbolicDimensions[3], pixels.SymbolicDimensions[3]);
        int? width = Ratio(latent.SymbolicDimensions[4], pixels.SymbolicDimensions[4]);
        if (height is not int scale || width != scale)
            throw new InvalidDataException("VAE graph's spatial dimensions must be fixed or named relative to each other (latent_height*8, height/8)");
        return scale;
    }

    /// <summary>Refuses tiling over a graph built for one fixed size (packages compiled before the VAE graphs had symbolic sizes).</summary>
    /// <exception cref="ArgumentException">The graph's spatial sizes are fixed.</exception>
    public static void EnsureTileable(NodeMetadata port)
    {
        if (port.Dimensions[3] > 0 || port.Dimensions[4] > 0)
            throw new ArgumentException($"this package's VAE graphs are built for {port.Dimensions[3]}x{port.Dimensions[4]} only and cannot tile; rebuild the package with 'tora model build'");
    }

    /// <summary>Refuses a size other than the one a fixed-size graph was built for (older packages).</summary>
    /// <exception cref="ArgumentException">The graph is fixed to another size.</exception>
    public static void EnsureAccepts(NodeMetadata port, int height, int width)
    {
        int[] d = port.Dimensions;
        if (d[3] > 0 && d[4] > 0 && (d[3] != height || d[4] != width))
            throw new ArgumentException($"this VAE graph is built for {d[3]}x{d[4]}, not {height}x{width} (rebuild the package to tile or resize)");
    }

    private static int? Ratio(string latent, string pixels)
    {
        if (VaeSpatialDim.TryParse(pixels, out var up) && up.Base == latent && up.Multiplier % up.Divisor == 0) return up.Multiplier / up.Divisor;
        if (VaeSpatialDim.TryParse(latent, out var down) && down.Base == pixels && down.Divisor % down.Multiplier == 0) return down.Divisor / down.Multiplier;
        return null;
    }
}
