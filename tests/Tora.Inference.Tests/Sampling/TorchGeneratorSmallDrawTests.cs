using Tora.Inference.Noise;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Sampling;

/// <summary>
/// Small and odd-sized draws, bit patterns printed by the Debian torch 1.13 that produced the golden data:
/// <c>g = torch.Generator().manual_seed(42)</c>; <c>randn(5)</c>, <c>randn(3)</c>, <c>randn(37)</c>, <c>randn(1)</c>
/// (the per-element double path with its cached second value, and a size that redraws its last 16); bfloat16
/// <c>randn(37)</c> from a fresh seed 42.
/// </summary>
public class TorchGeneratorSmallDrawTests
{
    private static readonly uint[] Five = [1051484846, 1040443037, 1047533287, 1047256172, 3213867458];
    private static readonly uint[] Three = [3191786712, 1074615084, 3206763462];
    private static readonly uint[] ThirtySeven =
    [
        1070741361, 3189992837, 3204360932, 1054937560, 3208778978, 1066010192, 1062011204, 1071062675, 1067694681,
        1067839791, 1058817928, 1068161200, 3194826477, 1026231296, 3196112506, 1063002032, 3216063741, 3210676565,
        3194272265, 1071370880, 1050887240, 1066958536, 3209716430, 3208407558, 3210104269, 3211534785, 1072159043,
        1042574114, 1052510212, 1072438184, 3214384876, 1068570661, 3214535101, 1060451119, 3213473441, 1057562794,
        1066824307,
    ];
    private static readonly uint[] One = [3207431586];

    private static readonly float[] BFloat16ThirtySeven =
    [
        -0.80859375f, -1.53125f, 0.40625f, 0.171875f, -0.2470703125f, 0.2041015625f, -0.87890625f, -0.38671875f,
        0.6015625f, 0.267578125f, -0.8515625f, -0.2890625f, 1.0f, -0.78125f, 1.375f, 0.11865234375f, 0.86328125f,
        -0.765625f, 0.82421875f, -1.1875f, -0.032958984375f, -0.1083984375f, 0.240234375f, 1.8359375f,
        -0.06298828125f, -0.271484375f, -0.61328125f, -0.291015625f, 0.6640625f, -0.91015625f, -0.59765625f,
        0.66015625f, -0.71484375f, -3.09375f, -1.3359375f, -3.3125f, 1.8515625f,
    ];

    [Fact]
    public void Small_and_odd_sized_draws_follow_torch_including_the_cached_normal()
    {
        var generator = new TorchGenerator(42);
        foreach (var expected in new[] { Five, Three, ThirtySeven, One })
        {
            var values = new float[expected.Length];
            generator.Randn(values);
            TorchGeneratorTests.AssertBitwiseEqual(expected.Select(BitConverter.UInt32BitsToSingle).ToArray(), values, $"randn({expected.Length})");
        }
    }

    [Fact]
    public void BFloat16_draws_match_torch()
    {
        var generator = new TorchGenerator(42);
        var values = new float[37];
        generator.RandnBFloat16(values);
        Assert.Equal(BFloat16ThirtySeven, values);
    }

    [Theory]
    [InlineData(42)]
    [InlineData(1234)]
    public void BFloat16_first_values_match_the_golden_file(int seed)
    {
        var golden = GoldenJson.Load(TestData.Path("golden/sampler/sampler.json"))
            .GetProperty("torch_cpu_randn").GetProperty(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var generator = new TorchGenerator((ulong)seed);
        var values = new float[1 * 13 * 16 * 60 * 90];
        generator.RandnBFloat16(values);
        Assert.Equal(golden.GetProperty("bf16_first_draw_first16").Numbers().Select(v => (float)v), values[..16]);
    }
}
