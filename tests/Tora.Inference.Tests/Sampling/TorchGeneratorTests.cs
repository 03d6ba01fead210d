using Tora.Motion.IO;
using Tora.Inference.Noise;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Sampling;

public class TorchGeneratorTests
{
    private static readonly string LoopPath = TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz");

    [Fact]
    public void Seed_42_reproduces_every_draw_of_the_reference_loop_bit_for_bit()
    {
        var reference = NpzFile.Read(LoopPath);
        var generator = new TorchGenerator(42);
        var draws = 0;
        for (var i = 0; reference.TryGetValue($"noise_{i:D3}", out var expected); i++)
        {
            var values = new float[expected.Length];
            generator.Randn(values);
            AssertBitwiseEqual(expected.ToFloats(), values, $"noise_{i:D3}");
            draws++;
        }
        Assert.Equal(8, draws);
    }

    [Theory]
    [InlineData(42)]
    [InlineData(1234)]
    public void First_values_match_torch_for_full_size_latents(int seed)
    {
        var golden = GoldenJson.Load(TestData.Path("golden/sampler/sampler.json"))
            .GetProperty("torch_cpu_randn").GetProperty(seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var generator = new TorchGenerator((ulong)seed);
        var first = new float[1 * 13 * 16 * 60 * 90];
        generator.Randn(first);
        var second = new float[first.Length];
        generator.Randn(second);

        Assert.Equal(golden.GetProperty("fp32_first_draw_first16").Numbers().Select(v => (float)v), first[..16]);
        Assert.Equal(golden.GetProperty("fp32_second_draw_first16").Numbers().Select(v => (float)v), second[..16]);
        var sum = first.Sum(v => (double)v);
        Assert.Equal(golden.GetProperty("fp32_first_draw_sum").Number(), sum, 1e-6);
    }

    [Fact]
    public void Skipping_a_draw_advances_the_stream_exactly_like_drawing_it()
    {
        foreach (var size in new[] { 3, 16, 19968, 1000 })
        {
            var drawn = new TorchGenerator(7);
            var skipped = new TorchGenerator(7);
            var scratch = new float[size];
            drawn.Randn(scratch);
            skipped.SkipRandn(size);
            var a = new float[40];
            var b = new float[40];
            drawn.Randn(a);
            skipped.Randn(b);
            AssertBitwiseEqual(a, b, $"after {size}");
        }
    }

    [Fact]
    public void Vector_and_scalar_Box_Muller_agree_on_every_bit()
    {
        var generator = new TorchGenerator(2024);
        var uniforms = new float[16 * 20000];
        for (var i = 0; i < uniforms.Length; i++) uniforms[i] = (generator.NextUInt32() & 0xFFFFFF) * (1f / (1 << 24));
        uniforms[0] = 0f; // u1 = 1 - 0 = 1: log is exactly 0
        uniforms[8] = 0f; // theta = 0
        var vector = (float[])uniforms.Clone();
        CephesBoxMuller.TransformBlocks(vector);
        var scalar = (float[])uniforms.Clone();
        for (var b = 0; b < scalar.Length; b += 16) CephesBoxMuller.Transform16Scalar(scalar.AsSpan(b, 16));
        AssertBitwiseEqual(scalar, vector, "vector vs scalar");
    }

    [Fact]
    public void Manual_seed_restarts_the_stream()
    {
        var generator = new TorchGenerator(5);
        var a = new float[33];
        generator.Randn(a);
        generator.ManualSeed(5);
        var b = new float[33];
        generator.Randn(b);
        AssertBitwiseEqual(a, b, "reseeded");
        Assert.Equal(5UL, generator.InitialSeed);
    }

    internal static void AssertBitwiseEqual(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R}");
        }
    }
}

public class Mt19937Tests
{
    [Fact]
    public void Vectorised_and_scalar_twists_give_the_same_state()
    {
        var generator = new TorchGenerator(123);
        for (var round = 0; round < 20; round++)
        {
            var state = new uint[624];
            for (var i = 0; i < state.Length; i++) state[i] = generator.NextUInt32();
            var scalar = (uint[])state.Clone();
            var vector = (uint[])state.Clone();
            Mt19937.TwistScalar(scalar);
            Mt19937.TwistVectorized(vector);
            Assert.Equal(scalar, vector);
        }
    }

    [Fact]
    public void The_stream_is_the_reference_mt19937()
    {
        // std::mt19937(5489): the 10000th output is 4123659995 (C++ standard, [rand.predef]).
        var engine = new Mt19937(5489);
        engine.Discard(9999);
        Assert.Equal(4123659995u, engine.Next());
        var block = new uint[700];
        var a = new Mt19937(99);
        a.Fill(block);
        var b = new Mt19937(99);
        Assert.Equal(block, Enumerable.Range(0, 700).Select(_ => b.Next()));
    }
}
