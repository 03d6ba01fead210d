using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Tora.Inference.Noise;

/// <summary>
/// The Box-Muller transform of PyTorch's float32 CPU <c>normal_fill</c> (AVX2 build): 16 uniforms at a time,
/// pairs (j, j + 8), with the Cephes single-precision polynomials of <c>avx_mathfun.h</c> for log and sincos —
/// not libm. PyTorch compiles that header with GCC's default contraction, so every multiply that feeds an add
/// is a fused multiply-add; this class reproduces the compiled instruction sequence (verified bit for bit
/// against the 160k draws of the tiny reference loop). A vector path (AVX2 + FMA) and a scalar path with
/// <see cref="MathF.FusedMultiplyAdd"/> compute identical bits.
/// </summary>
internal static class CephesBoxMuller
{
    private const float SqrtHalf = 0.707106781186547524f;
    private const float LogP0 = 7.0376836292E-2f, LogP1 = -1.1514610310E-1f, LogP2 = 1.1676998740E-1f;
    private const float LogP3 = -1.2420140846E-1f, LogP4 = 1.4249322787E-1f, LogP5 = -1.6668057665E-1f;
    private const float LogP6 = 2.0000714765E-1f, LogP7 = -2.4999993993E-1f, LogP8 = 3.3333331174E-1f;
    private const float LogQ1 = -2.12194440e-4f, LogQ2 = 0.693359375f;
    private const float MinusDp1 = -0.78515625f, MinusDp2 = -2.4187564849853515625e-4f, MinusDp3 = -3.77489497744594108e-8f;
    private const float SinP0 = -1.9515295891E-4f, SinP1 = 8.3321608736E-3f, SinP2 = -1.6666654611E-1f;
    private const float CosP0 = 2.443315711809948E-005f, CosP1 = -1.388731625493765E-003f, CosP2 = 4.166664568298827E-002f;
    private const float FourOverPi = 1.27323954473516f;
    private const int MinNormPos = 0x00800000;
    private const int InvMantMask = ~0x7f800000;

    /// <summary><c>_mm256_set1_ps(2.0f * c10::pi&lt;double&gt;)</c>: the double product rounded once to float.</summary>
    private const float TwoPi = (float)(2.0 * Math.PI);

    /// <summary>Transforms every complete block of 16 uniforms in <paramref name="data"/> in place.</summary>
    public static void TransformBlocks(Span<float> data)
    {
        var blocks = data.Length / 16;
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            ref var start = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(data);
            for (var b = 0; b < blocks; b++)
            {
                ref var block = ref Unsafe.Add(ref start, b * 16);
                Transform16Vector(ref block);
            }
        }
        else
        {
            for (var b = 0; b < blocks; b++) Transform16Scalar(data.Slice(b * 16, 16));
        }
    }

    /// <summary>One 16-block through the scalar path (used by tests to prove both paths agree).</summary>
    internal static void Transform16Scalar(Span<float> block)
    {
        for (var j = 0; j < 8; j++)
        {
            var u1 = 1f - block[j];
            var u2 = block[j + 8];
            var radius = MathF.Sqrt(-2f * Log(u1));
            SinCos(TwoPi * u2, out var sin, out var cos);
            // torch stores fmadd(n, std = 1, mean = 0): adding +0 turns -0 into +0.
            block[j] = radius * cos + 0f;
            block[j + 8] = radius * sin + 0f;
        }
    }

    private static void Transform16Vector(ref float block)
    {
        var u1 = Avx.Subtract(Vector256.Create(1f), Vector256.LoadUnsafe(ref block));
        var u2 = Vector256.LoadUnsafe(ref block, 8);
        var radius = Avx.Sqrt(Avx.Multiply(Vector256.Create(-2f), Log(u1)));
        var theta = Avx.Multiply(Vector256.Create(TwoPi), u2);
        SinCos(theta, out var sin, out var cos);
        Avx.Add(Avx.Multiply(radius, cos), Vector256<float>.Zero).StoreUnsafe(ref block);
        Avx.Add(Avx.Multiply(radius, sin), Vector256<float>.Zero).StoreUnsafe(ref block, 8);
    }

    /// <summary>Cephes logf of <c>avx_mathfun.h</c> (<c>log256_ps</c>), one lane.</summary>
    internal static float Log(float x)
    {
        var invalid = x <= 0f;
        x = MathF.Max(x, BitConverter.Int32BitsToSingle(MinNormPos));
        var bits = BitConverter.SingleToInt32Bits(x);
        var exponent = (int)((uint)bits >> 23) - 0x7f;
        x = BitConverter.Int32BitsToSingle((bits & InvMantMask) | BitConverter.SingleToInt32Bits(0.5f));
        var e = exponent + 1f;
        var below = x < SqrtHalf;
        var tmp = below ? x : 0f;
        x -= 1f;
        e -= below ? 1f : 0f;
        x += tmp;
        var z = x * x;
        var y = MathF.FusedMultiplyAdd(LogP0, x, LogP1);
        y = MathF.FusedMultiplyAdd(y, x, LogP2);
        y = MathF.FusedMultiplyAdd(y, x, LogP3);
        y = MathF.FusedMultiplyAdd(y, x, LogP4);
        y = MathF.FusedMultiplyAdd(y, x, LogP5);
        y = MathF.FusedMultiplyAdd(y, x, LogP6);
        y = MathF.FusedMultiplyAdd(y, x, LogP7);
        y = MathF.FusedMultiplyAdd(y, x, LogP8);
        y *= x;
        y = MathF.FusedMultiplyAdd(y, z, e * LogQ1);
        y = MathF.FusedMultiplyAdd(z, -0.5f, y);
        x += y;
        x = MathF.FusedMultiplyAdd(e, LogQ2, x);
        return invalid ? float.NaN : x;
    }

    /// <summary>Cephes sincosf of <c>avx_mathfun.h</c> (<c>sincos256_ps</c>), one lane.</summary>
    internal static void SinCos(float value, out float sin, out float cos)
    {
        var bits = BitConverter.SingleToInt32Bits(value);
        var signSin = bits & int.MinValue;
        var x = BitConverter.Int32BitsToSingle(bits & int.MaxValue);
        var j = (int)(x * FourOverPi);
        j = (j + 1) & ~1;
        var y = (float)j;
        var swapSign = (j & 4) << 29;
        var usePoly = (j & 2) == 0;
        x = MathF.FusedMultiplyAdd(y, MinusDp1, x);
        x = MathF.FusedMultiplyAdd(y, MinusDp2, x);
        x = MathF.FusedMultiplyAdd(y, MinusDp3, x);
        var signCos = (~(j - 2) & 4) << 29;
        signSin ^= swapSign;
        var z = x * x;
        var yc = MathF.FusedMultiplyAdd(CosP0, z, CosP1);
        yc = MathF.FusedMultiplyAdd(yc, z, CosP2);
        yc *= z;
        yc = MathF.FusedMultiplyAdd(yc, z, -(z * 0.5f));
        yc += 1f;
        var ys = MathF.FusedMultiplyAdd(SinP0, z, SinP1);
        ys = MathF.FusedMultiplyAdd(ys, z, SinP2);
        ys *= z;
        ys = MathF.FusedMultiplyAdd(ys, x, x);
        // The header selects with masks, subtracts and adds; with one operand zero that is a select except for
        // the sign of zero, which the additions below reproduce.
        var sin2 = usePoly ? ys : 0f;
        var sin1 = usePoly ? 0f : yc;
        var cosFromS = ys - sin2;
        var cosFromC = yc - sin1;
        sin = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(sin1 + sin2) ^ signSin);
        cos = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(cosFromC + cosFromS) ^ signCos);
    }

    private static Vector256<float> Log(Vector256<float> x)
    {
        var one = Vector256.Create(1f);
        var invalid = Avx.CompareLessThanOrEqual(x, Vector256<float>.Zero);
        x = Avx.Max(x, Vector256.Create(MinNormPos).AsSingle());
        var exponent = Avx2.ShiftRightLogical(x.AsInt32(), 23);
        x = Avx.Or(Avx.And(x, Vector256.Create(InvMantMask).AsSingle()), Vector256.Create(0.5f));
        exponent = Avx2.Subtract(exponent, Vector256.Create(0x7f));
        var e = Avx.Add(Avx.ConvertToVector256Single(exponent), one);
        var mask = Avx.CompareLessThan(x, Vector256.Create(SqrtHalf));
        var tmp = Avx.And(x, mask);
        x = Avx.Subtract(x, one);
        e = Avx.Subtract(e, Avx.And(one, mask));
        x = Avx.Add(x, tmp);
        var z = Avx.Multiply(x, x);
        var y = Fma.MultiplyAdd(Vector256.Create(LogP0), x, Vector256.Create(LogP1));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP2));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP3));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP4));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP5));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP6));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP7));
        y = Fma.MultiplyAdd(y, x, Vector256.Create(LogP8));
        y = Avx.Multiply(y, x);
        y = Fma.MultiplyAdd(y, z, Avx.Multiply(e, Vector256.Create(LogQ1)));
        y = Fma.MultiplyAddNegated(z, Vector256.Create(0.5f), y);
        x = Avx.Add(x, y);
        x = Fma.MultiplyAdd(e, Vector256.Create(LogQ2), x);
        return Avx.Or(x, invalid);
    }

    private static void SinCos(Vector256<float> x, out Vector256<float> sin, out Vector256<float> cos)
    {
        var signMask = Vector256.Create(int.MinValue).AsSingle();
        var signSin = Avx.And(x, signMask);
        x = Avx.AndNot(signMask, x);
        var y = Avx.Multiply(x, Vector256.Create(FourOverPi));
        var j = Avx.ConvertToVector256Int32WithTruncation(y);
        j = Avx2.And(Avx2.Add(j, Vector256.Create(1)), Vector256.Create(~1));
        y = Avx.ConvertToVector256Single(j);
        var swapSign = Avx2.ShiftLeftLogical(Avx2.And(j, Vector256.Create(4)), 29);
        var polyMask = Avx2.CompareEqual(Avx2.And(j, Vector256.Create(2)), Vector256<int>.Zero).AsSingle();
        x = Fma.MultiplyAdd(y, Vector256.Create(MinusDp1), x);
        x = Fma.MultiplyAdd(y, Vector256.Create(MinusDp2), x);
        x = Fma.MultiplyAdd(y, Vector256.Create(MinusDp3), x);
        var signCos = Avx2.ShiftLeftLogical(Avx2.AndNot(Avx2.Subtract(j, Vector256.Create(2)), Vector256.Create(4)), 29).AsSingle();
        signSin = Avx.Xor(signSin, swapSign.AsSingle());
        var z = Avx.Multiply(x, x);
        var yc = Fma.MultiplyAdd(Vector256.Create(CosP0), z, Vector256.Create(CosP1));
        yc = Fma.MultiplyAdd(yc, z, Vector256.Create(CosP2));
        yc = Avx.Multiply(yc, z);
        yc = Fma.MultiplySubtract(yc, z, Avx.Multiply(z, Vector256.Create(0.5f)));
        yc = Avx.Add(yc, Vector256.Create(1f));
        var ys = Fma.MultiplyAdd(Vector256.Create(SinP0), z, Vector256.Create(SinP1));
        ys = Fma.MultiplyAdd(ys, z, Vector256.Create(SinP2));
        ys = Avx.Multiply(ys, z);
        ys = Fma.MultiplyAdd(ys, x, x);
        var sin2 = Avx.And(polyMask, ys);
        var sin1 = Avx.AndNot(polyMask, yc);
        var cosFromS = Avx.Subtract(ys, sin2);
        var cosFromC = Avx.Subtract(yc, sin1);
        sin = Avx.Xor(Avx.Add(sin1, sin2), signSin);
        cos = Avx.Xor(Avx.Add(cosFromC, cosFromS), signCos);
    }
}
