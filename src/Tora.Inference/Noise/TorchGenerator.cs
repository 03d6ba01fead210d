using System.Runtime.Intrinsics;

namespace Tora.Inference.Noise;

/// <summary>
/// A bit-exact reproduction of <c>torch.Generator().manual_seed(seed)</c> followed by
/// <c>torch.randn(shape, generator=g)</c> on the CPU (docs/model.md §5.5): the same MT19937 stream, the same
/// uniform conversion and the same normal transform, chosen by tensor size as torch chooses it:
/// <list type="bullet">
/// <item>float32, 16 elements or more: all uniforms <c>(u32 &amp; 0xFFFFFF)·2⁻²⁴</c> first, then Box-Muller
/// over blocks of 16 (pairs j, j + 8) with Cephes log/sincos; when the size is not a multiple of 16 the last 16
/// values are redrawn from fresh uniforms and transformed again;</item>
/// <item>fewer than 16 elements: one double-precision Box-Muller draw per element (53-bit uniforms from two
/// 32-bit outputs), whose second value is cached in the generator for the next small draw.</item>
/// </list>
/// Not thread-safe: one generator belongs to one generation.
/// </summary>
public sealed class TorchGenerator
{
    private const int BlockSize = 16;
    private readonly Mt19937 _engine;
    private double? _nextDoubleNormal;

    /// <summary>Creates a generator seeded as <c>torch.Generator().manual_seed(seed)</c>.</summary>
    public TorchGenerator(ulong seed)
    {
        _engine = new Mt19937(seed);
        InitialSeed = seed;
    }

    /// <summary>The seed of the last <see cref="ManualSeed"/> (or the constructor).</summary>
    public ulong InitialSeed { get; private set; }

    /// <summary>Re-seeds the stream and forgets the cached normal value, as <c>manual_seed</c> does.</summary>
    public void ManualSeed(ulong seed)
    {
        _engine.Seed(seed);
        _nextDoubleNormal = null;
        InitialSeed = seed;
    }

    /// <summary>The next raw 32-bit output (<c>generator-&gt;random()</c>).</summary>
    public uint NextUInt32() => _engine.Next();

    /// <summary>The next 64-bit output (<c>random64()</c>: the first 32-bit draw is the high half).</summary>
    public ulong NextUInt64()
    {
        ulong hi = _engine.Next();
        ulong lo = _engine.Next();
        return (hi << 32) | lo;
    }

    /// <summary>
    /// Fills <paramref name="destination"/> as <c>torch.randn</c> of a contiguous float32 tensor with that many
    /// elements (the shape does not matter, only the element count).
    /// </summary>
    public void Randn(Span<float> destination)
    {
        if (destination.Length >= BlockSize)
        {
            FillUniform24(destination);
            CephesBoxMuller.TransformBlocks(destination);
            if (destination.Length % BlockSize != 0)
            {
                var tail = destination[^BlockSize..];
                FillUniform24(tail);
                CephesBoxMuller.TransformBlocks(tail);
            }
        }
        else
        {
            for (var i = 0; i < destination.Length; i++) destination[i] = (float)NextDoubleNormal();
        }
    }

    /// <summary>Advances the stream exactly as <see cref="Randn"/> of <paramref name="count"/> elements would,
    /// without computing the values (a draw the sampler consumes but never uses).</summary>
    public void SkipRandn(long count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (count >= BlockSize)
        {
            _engine.Discard(count);
            if (count % BlockSize != 0) _engine.Discard(BlockSize);
        }
        else
        {
            for (var i = 0; i < count; i++) NextDoubleNormal();
        }
    }

    /// <summary>
    /// Fills <paramref name="destination"/> as <c>torch.randn(..., dtype=torch.bfloat16)</c>: every value is a
    /// bfloat16 number, returned widened to float. Sizes of 16 or more use torch's portable <c>normal_fill</c>
    /// (8-bit uniforms, every operation rounded to bfloat16); smaller sizes the cached double draw.
    /// </summary>
    public void RandnBFloat16(Span<float> destination)
    {
        if (destination.Length >= BlockSize)
        {
            FillUniform8(destination);
            BFloat16Blocks(destination);
            if (destination.Length % BlockSize != 0)
            {
                var tail = destination[^BlockSize..];
                FillUniform8(tail);
                BFloat16Blocks(tail);
            }
        }
        else
        {
            for (var i = 0; i < destination.Length; i++) destination[i] = BFloat16.Round((float)NextDoubleNormal());
        }
    }

    /// <summary>torch's <c>uniform_real_distribution&lt;float&gt;(0, 1)</c>: the low 24 bits of each output times 2⁻²⁴,
    /// generated in place (the raw words are written into the float buffer, then converted).</summary>
    private void FillUniform24(Span<float> destination)
    {
        var raw = System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(destination);
        _engine.Fill(raw);
        var i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            for (; i + 8 <= raw.Length; i += 8)
            {
                var bits = Vector256.Create<uint>(raw.Slice(i, 8)) & Vector256.Create(0xFFFFFFu);
                var value = Vector256.ConvertToSingle(bits.AsInt32()) * Vector256.Create(1f / (1 << 24));
                value.CopyTo(destination.Slice(i, 8));
            }
        }
        for (; i < raw.Length; i++) destination[i] = (raw[i] & 0xFFFFFF) * (1f / (1 << 24));
    }

    private void FillUniform8(Span<float> destination)
    {
        for (var i = 0; i < destination.Length; i++) destination[i] = (_engine.Next() & 0xFF) * (1f / 256);
    }

    /// <summary>torch's generic <c>normal_fill_16</c> in bfloat16 arithmetic: each operation computes in float
    /// and rounds to bfloat16, as c10::BFloat16's operators do.</summary>
    private static void BFloat16Blocks(Span<float> data)
    {
        for (var b = 0; b + BlockSize <= data.Length; b += BlockSize)
        {
            var block = data.Slice(b, BlockSize);
            for (var j = 0; j < 8; j++)
            {
                var u1 = BFloat16.Round(1f - block[j]);
                var u2 = block[j + 8];
                var log = BFloat16.Round(MathF.Log(u1));
                var radius = BFloat16.Round(MathF.Sqrt(BFloat16.Round(-2f * log)));
                var theta = BFloat16.Round((float)(2.0 * Math.PI * u2));
                var cos = BFloat16.Round(MathF.Cos(theta));
                var sin = BFloat16.Round(MathF.Sin(theta));
                block[j] = BFloat16.Round(BFloat16.Round(radius * cos) * 1f + 0f);
                block[j + 8] = BFloat16.Round(BFloat16.Round(radius * sin) * 1f + 0f);
            }
        }
    }

    /// <summary><c>at::normal_distribution&lt;double&gt;</c>: Box-Muller in double, second value cached.</summary>
    private double NextDoubleNormal()
    {
        if (_nextDoubleNormal is { } cached)
        {
            _nextDoubleNormal = null;
            return cached;
        }
        var u1 = UniformDouble();
        var u2 = UniformDouble();
        var r = Math.Sqrt(-2.0 * Math.Log(1.0 - u2));
        var theta = 2.0 * Math.PI * u1;
        _nextDoubleNormal = r * Math.Sin(theta);
        return r * Math.Cos(theta);
    }

    private double UniformDouble() => (NextUInt64() & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));
}

/// <summary>Round-to-nearest-even conversion of float to bfloat16 (kept as a float), as c10::BFloat16 does.</summary>
internal static class BFloat16
{
    public static float Round(float value)
    {
        if (float.IsNaN(value)) return value;
        var bits = BitConverter.SingleToUInt32Bits(value);
        var rounding = 0x7FFFu + ((bits >> 16) & 1);
        return BitConverter.UInt32BitsToSingle((bits + rounding) & 0xFFFF0000u);
    }
}
