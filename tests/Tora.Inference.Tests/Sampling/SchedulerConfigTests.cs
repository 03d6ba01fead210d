using Tora.Inference.Sampling;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Sampling;

public class SchedulerConfigTests
{
    [Fact]
    public void The_official_config_file_reads_as_the_CogVideoX_5B_schedule()
    {
        var config = CogVideoXSchedulerConfig.Load(TestData.Path("fixtures/tiny-tora-t2v/scheduler/scheduler_config.json"));
        Assert.Equal(CogVideoXSchedulerConfig.CogVideoX5B, config);
    }

    [Fact]
    public void Missing_keys_take_the_diffusers_defaults()
    {
        var config = CogVideoXSchedulerConfig.Parse("{}");
        Assert.Equal("epsilon", config.PredictionType);
        Assert.Equal("leading", config.TimestepSpacing);
        Assert.Equal(3.0, config.SnrShiftScale);
        var leading = new CogVideoXDpmScheduler(config with { StepsOffset = 1 }, 4);
        Assert.Equal([751, 501, 251, 1], leading.Timesteps.ToArray());
        var linspace = new CogVideoXDpmScheduler(config with { TimestepSpacing = "linspace" }, 4);
        Assert.Equal([999, 666, 333, 0], linspace.Timesteps.ToArray());
    }

    [Theory]
    [InlineData("{\"prediction_type\": \"flow\"}", "prediction_type 'flow'")]
    [InlineData("{\"timestep_spacing\": \"karras\"}", "timestep_spacing 'karras'")]
    [InlineData("{\"beta_schedule\": \"squaredcos_cap_v2\"}", "beta_schedule 'squaredcos_cap_v2'")]
    [InlineData("{\"trained_betas\": [0.1, 0.2]}", "trained_betas")]
    [InlineData("{\"num_train_timesteps\": \"many\"}", "scheduler config")]
    [InlineData("[1, 2]", "not a JSON object")]
    [InlineData("{", "not valid JSON")]
    public void Unsupported_or_malformed_configs_are_refused_with_the_reason(string json, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => CogVideoXSchedulerConfig.Parse(json));
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void Epsilon_and_sample_predictions_give_the_clean_sample_as_diffusers_defines_it()
    {
        float[] sample = [1f, 2f];
        float[] output = [0.5f, -0.5f];
        var x0 = new float[2];
        DpmSolverKernels.PredictOriginalSample("epsilon", 0.64, sample, output, x0);
        Assert.Equal([(1f - 0.6f * 0.5f) / 0.8f, (2f - 0.6f * -0.5f) / 0.8f], x0);
        DpmSolverKernels.PredictOriginalSample("sample", 0.64, sample, output, x0);
        Assert.Equal(output, x0);
        DpmSolverKernels.PredictOriginalSample("v_prediction", 0.64, sample, output, x0);
        Assert.Equal([0.8f * 1f - 0.6f * 0.5f, 0.8f * 2f - 0.6f * -0.5f], x0);
    }
}
