namespace Tora.Inference.Vae;

/// <summary>
/// The int64 inputs of the VAE chunk graphs that carry frame arithmetic: the host computes them from the
/// chunk's frame count, so the graphs hold no Shape/Slice/Sub/Mod nodes on int64 shapes (ONNX Runtime places
/// those on the CPU, and a graph with them cannot load on CUDA with the CPU fallback disabled; docs/gpu.md).
/// </summary>
public static class VaeFrameInputs
{
    /// <summary>Prefix shared by every frame-arithmetic input.</summary>
    public const string Prefix = "frames.";

    /// <summary>
    /// int64 [5]: the Tile repeats <c>[1, 1, cache − past, 1, 1]</c> of the chunk's first frame that complete
    /// each causal convolution's time padding (all of it on a clip's first chunk, whose pasts are empty; none after).
    /// </summary>
    public const string CacheFill = Prefix + "cache_fill";

    /// <summary>Decoder, int64 [1]: the chunk's latent frame count mod 2 (the same at every time scale, since 2T − T mod 2 keeps the parity).</summary>
    public const string OddFrames = Prefix + "odd";

    /// <summary>
    /// Encoder, <c>frames.pad.i</c> int64 [5]: <c>[1, 1, T_i mod 2, 1, 1]</c>, the repeats of the first frame put
    /// before time downsampler i; T_0 is the chunk's frame count and T_(i+1) = (T_i + T_i mod 2) / 2.
    /// </summary>
    public const string DownsamplePadPrefix = Prefix + "pad.";

    /// <summary>
    /// The value of input <paramref name="name"/> for a chunk of <paramref name="frames"/> frames whose caches
    /// hold <paramref name="pastFrames"/> of <paramref name="cacheFrames"/> frames.
    /// </summary>
    /// <exception cref="InvalidDataException"><paramref name="name"/> is not a frame input this build knows.</exception>
    public static long[] Value(string name, int frames, int pastFrames, int cacheFrames)
    {
        if (name == CacheFill) return [1, 1, cacheFrames - pastFrames, 1, 1];
        if (name == OddFrames) return [frames % 2];
        if (name.StartsWith(DownsamplePadPrefix, StringComparison.Ordinal)
            && int.TryParse(name.AsSpan(DownsamplePadPrefix.Length), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int level))
        {
            int t = frames;
            for (int i = 0; i < level; i++) t = (t + t % 2) / 2;
            return [1, 1, t % 2, 1, 1];
        }
        throw new InvalidDataException($"VAE graph input '{name}' is not a frame input this build knows; rebuild the package with this version's 'tora model build'");
    }

    /// <summary>Whether <paramref name="name"/> is a frame-arithmetic input.</summary>
    public static bool Is(string name) => name.StartsWith(Prefix, StringComparison.Ordinal);
}
