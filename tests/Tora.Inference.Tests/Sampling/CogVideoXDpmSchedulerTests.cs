using System.Text.Json;
using Tora.Inference.Sampling;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Sampling;

public class CogVideoXDpmSchedulerTests
{
    private static readonly JsonElement Golden = GoldenJson.Load(TestData.Path("golden/sampler/sampler.json"));
    private static readonly CogVideoXDpmScheduler Scheduler = new(CogVideoXSchedulerConfig.CogVideoX5B, 50);

    [Fact]
    public void Alpha_products_match_the_rescaled_float64_table()
    {
        var expected = Golden.GetProperty("alphas_cumprod_float64").Numbers();
        Assert.Equal(1000, expected.Length);
        for (var t = 0; t < 1000; t++) AssertRelative(expected[t], Scheduler.AlphasCumprod[t], 1e-12, $"alphas_cumprod[{t}]");
        Assert.Equal(0.0, Scheduler.AlphasCumprod[999]);
        Assert.Equal(1.0, Scheduler.FinalAlphaCumprod);
    }

    [Fact]
    public void Fifty_trailing_timesteps_run_from_999_to_19()
    {
        var expected = Golden.GetProperty("timesteps").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(expected, Scheduler.Timesteps.ToArray());
        Assert.Equal(98, Scheduler.TotalNoiseDraws);
    }

    [Fact]
    public void Every_step_multiplier_matches_to_1e_12_including_the_infinities()
    {
        var steps = Golden.GetProperty("per_step").EnumerateArray().ToArray();
        Assert.Equal(50, steps.Length);
        foreach (var s in steps)
        {
            var i = s.GetProperty("i").GetInt32();
            var c = Scheduler.Step(i);
            Assert.Equal(s.GetProperty("t").GetInt32(), c.Timestep);
            Assert.Equal(s.GetProperty("prev_t").GetInt32(), c.PrevTimestep);
            Assert.Equal(Nullable(s, "t_back") is { } tb ? (int)tb : null, c.TimestepBack);
            AssertRelative(s.GetProperty("alpha_prod_t").Number(), c.AlphaProdT, 1e-12, $"alpha_prod_t {i}");
            AssertRelative(s.GetProperty("alpha_prod_t_prev").Number(), c.AlphaProdTPrev, 1e-12, $"alpha_prod_t_prev {i}");
            AssertOptional(Nullable(s, "alpha_prod_t_back"), c.AlphaProdTBack, $"alpha_prod_t_back {i}");
            AssertRelative(s.GetProperty("lambda").Number(), c.Lambda, 1e-12, $"lambda {i}");
            AssertRelative(s.GetProperty("lambda_next").Number(), c.LambdaNext, 1e-12, $"lambda_next {i}");
            AssertRelative(s.GetProperty("h").Number(), c.H, 1e-12, $"h {i}");
            AssertOptional(Nullable(s, "r"), c.R, $"r {i}");
            AssertRelative(s.GetProperty("mult1").Number(), c.Mult1, 1e-12, $"mult1 {i}");
            AssertRelative(s.GetProperty("mult2").Number(), c.Mult2, 1e-12, $"mult2 {i}");
            AssertOptional(Nullable(s, "mult3"), c.Mult3, $"mult3 {i}");
            AssertOptional(Nullable(s, "mult4"), c.Mult4, $"mult4 {i}");
            AssertRelative(s.GetProperty("mult_noise").Number(), c.MultNoise, 1e-12, $"mult_noise {i}");
            Assert.Equal(i > 0 && i < 49, c.SecondOrder);
        }
    }

    [Fact]
    public void Dynamic_guidance_uses_the_timestep_value_as_the_original_does()
    {
        var guidance = new ClassifierFreeGuidance(6.0, UseDynamicCfg: true);
        foreach (var s in Golden.GetProperty("per_step").EnumerateArray())
        {
            var t = s.GetProperty("t").GetInt32();
            AssertRelative(s.GetProperty("dynamic_cfg_scale").Number(), guidance.ScaleAt(t, 50), 1e-12, $"scale at t={t}");
        }
        var toyScales = Golden.GetProperty("toy_loop").GetProperty("dynamic_scales").Numbers();
        for (var i = 0; i < 50; i++) AssertRelative(toyScales[i], guidance.ScaleAt(Scheduler.Timesteps[i], 50), 1e-12, $"toy {i}");
        Assert.Equal(6.0, new ClassifierFreeGuidance(6.0, UseDynamicCfg: false).ScaleAt(999, 50));
        Assert.False(new ClassifierFreeGuidance(1.0).Enabled);
        Assert.True(new ClassifierFreeGuidance(6.0).Enabled);
    }

    [Fact]
    public void Four_trailing_steps_match_the_tiny_reference_loop()
    {
        var four = new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 4);
        Assert.Equal([999, 749, 499, 249], four.Timesteps.ToArray());
        Assert.Equal(6, four.TotalNoiseDraws);
        Assert.Equal(-1, four.Step(3).PrevTimestep);
    }

    [Theory]
    [InlineData(1, new[] { 999 })]
    [InlineData(3, new[] { 999, 666, 332 })]
    [InlineData(7, new[] { 999, 856, 713, 570, 428, 285, 142 })]
    public void Trailing_timesteps_follow_numpy_rounding(int steps, int[] expected) =>
        Assert.Equal(expected, new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, steps).Timesteps.ToArray());

    [Fact]
    public void Step_counts_where_diffusers_produces_an_extra_timestep_are_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 61));
        Assert.Contains("62 timesteps for 61 steps", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 1001));
    }

    [Fact]
    public void One_step_is_a_single_first_order_step_to_the_clean_sample()
    {
        var one = new CogVideoXDpmScheduler(CogVideoXSchedulerConfig.CogVideoX5B, 1);
        var c = one.Step(0);
        Assert.False(c.SecondOrder);
        Assert.Equal(0.0, c.Mult1);
        Assert.Equal(-1.0, c.Mult2);
        Assert.Equal(0.0, c.MultNoise);
    }

    [Fact]
    public void Expm1_is_exact_at_the_infinities_and_accurate_near_zero()
    {
        Assert.Equal(-1.0, ExactMath.Expm1(double.NegativeInfinity));
        Assert.Equal(double.PositiveInfinity, ExactMath.Expm1(double.PositiveInfinity));
        Assert.True(double.IsNaN(ExactMath.Expm1(double.NaN)));
        Assert.Equal(0.0, ExactMath.Expm1(0.0));
        AssertRelative(1e-10 + 5e-21, ExactMath.Expm1(1e-10), 1e-15, "1e-10");
        AssertRelative(-0.3934693402873666, ExactMath.Expm1(-0.5), 1e-15, "-0.5");
        AssertRelative(1.718281828459045, ExactMath.Expm1(1.0), 1e-15, "1");
        AssertRelative(-0.009950166250831947, ExactMath.Expm1(-0.01), 1e-15, "-0.01");
        AssertRelative(1.0000050000166667e-05, ExactMath.Expm1(1e-5), 1e-15, "1e-5");
    }

    private static double? Nullable(JsonElement e, string name) =>
        e.GetProperty(name).ValueKind == JsonValueKind.Null ? null : e.GetProperty(name).Number();

    private static void AssertOptional(double? expected, double? actual, string what)
    {
        Assert.Equal(expected.HasValue, actual.HasValue);
        if (expected is { } x) AssertRelative(x, actual!.Value, 1e-12, what);
    }

    internal static void AssertRelative(double expected, double actual, double tolerance, string what)
    {
        if (double.IsInfinity(expected) || expected == 0.0)
        {
            Assert.True(expected == actual, $"{what}: {actual:R}, expected {expected:R}");
            return;
        }
        var rel = Math.Abs(actual - expected) / Math.Abs(expected);
        Assert.True(rel <= tolerance, $"{what}: {actual:R}, expected {expected:R} (relative {rel:E2})");
    }
}
