using Tora.Contracts;
using Tora.Inference.Noise;
using Tora.Inference.Pipeline;
using Tora.Motion.Trajectories;

namespace Tora.Inference.Tests.Pipeline;

/// <summary>
/// Motion strength and the step window through the whole pipeline on the tiny package (4 steps, the reference
/// loop's flow video and noise): steps inside the window are exactly the fully guided run's, steps outside it
/// exactly the run without motion input.
/// </summary>
[Collection(TinyPackageCollection.Name)]
public sealed class MotionControlsPipelineTests(TinyPackageFixture fixture)
{
    private const int Steps = 4;

    private async Task<List<float[]>> RunAsync(MotionControls? motion, bool withMotionInput = true)
    {
        var noise = new ReplayNoiseSource(fixture.Loop, "t2v_loop_4steps.npz");
        if (!withMotionInput) noise.Skip([1, 16, 13, 8, 12], NoiseConsumer.FlowPosterior); // keep the later draws aligned
        var steps = new List<float[]>();
        var request = new GenerationRequest
        {
            Prompt = "A squirrel gathering nuts.",
            FlowVideo = withMotionInput ? fixture.ReferenceFlowVideo() : null,
            Steps = Steps,
            Noise = noise,
            OnStep = (_, latents) => steps.Add(latents.ToArray()),
        };
        if (motion is not null) request = request with { Motion = motion };
        await fixture.Pipeline.GenerateAsync(request, null, default);
        return steps;
    }

    [Fact]
    public async Task Explicit_default_controls_are_bit_for_bit_the_run_without_them()
    {
        var unset = await RunAsync(null);
        var explicitDefaults = await RunAsync(new MotionControls(1, 0, 1));
        Assert.Equal(unset.Count, explicitDefaults.Count);
        for (int k = 0; k < unset.Count; k++) Assert.Equal(unset[k], explicitDefaults[k]);
    }

    [Fact]
    public async Task Steps_inside_the_window_are_guided_and_steps_outside_are_not()
    {
        var guided = await RunAsync(MotionControls.Default);
        var unguided = await RunAsync(null, withMotionInput: false);
        // Window [0, 0.5] of 4 steps: steps 0, 1, 2 (2 / 4 = 0.5 is inside), not step 3.
        var half = await RunAsync(new MotionControls(1, 0, 0.5));
        for (int k = 0; k < 3; k++) Assert.Equal(guided[k], half[k]);
        Assert.NotEqual(guided[3], half[3]);
        Assert.NotEqual(unguided[3], half[3]);

        // A window no step reaches (i / n < 1 for every step) is the run without motion input, bit for bit.
        var none = await RunAsync(new MotionControls(1, 1, 1));
        for (int k = 0; k < Steps; k++) Assert.Equal(unguided[k], none[k]);

        // A window starting late: steps before it are unguided.
        var late = await RunAsync(new MotionControls(1, 0.5, 1));
        for (int k = 0; k < 2; k++) Assert.Equal(unguided[k], late[k]);
        Assert.NotEqual(unguided[2], late[2]);
    }

    [Fact]
    public async Task Strength_zero_still_runs_the_fusers_and_strength_changes_the_result()
    {
        var guided = await RunAsync(MotionControls.Default);
        var unguided = await RunAsync(null, withMotionInput: false);
        var zero = await RunAsync(new MotionControls(0, 0, 1));
        var strong = await RunAsync(new MotionControls(2.5, 0, 1));
        Assert.NotEqual(unguided[0], zero[0]); // zero features still give the fusers' biases
        Assert.NotEqual(guided[0], zero[0]);
        Assert.NotEqual(guided[0], strong[0]);
    }

    [Theory]
    [InlineData(-0.1, 0, 1, "strength")]
    [InlineData(10.5, 0, 1, "strength")]
    [InlineData(double.NaN, 0, 1, "strength")]
    [InlineData(1, -0.5, 1, "start")]
    [InlineData(1, 0, 1.5, "end")]
    [InlineData(1, 0.6, 0.2, "end")]
    public void Invalid_controls_name_their_field(double strength, double start, double end, string field)
    {
        var errors = new MotionControls(strength, start, end).Validate();
        Assert.Contains(errors, e => e.Field == field);
    }

    [Fact]
    public async Task The_pipeline_refuses_invalid_controls()
    {
        var e = await Assert.ThrowsAsync<Tora.Inference.GenerationException>(() => RunAsync(new MotionControls(1, 0.6, 0.2)));
        Assert.Equal(GenerationErrorCodes.InvalidInput, e.Code);
        Assert.Contains("end", e.Message);
    }

    [Fact]
    public void The_window_is_a_fraction_of_the_steps_with_both_ends_inside()
    {
        var window = new MotionControls(0.6, 0, 0.2);
        Assert.Equal(Enumerable.Range(0, 11), Enumerable.Range(0, 50).Where(i => window.GuidesStep(i, 50)));
        Assert.True(MotionControls.Default.CoversEveryStep);
        Assert.False(window.CoversEveryStep);
        Assert.Empty(MotionControls.Default.Validate());
    }
}
