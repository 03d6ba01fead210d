using System.Text.Json;
using Tora.Inference.Noise;
using Tora.Inference.Pipeline;
using Tora.Motion.IO;
using Tora.Motion.Trajectories;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Pipeline;

/// <summary>
/// Motion strength and the step window against the original: tests/data/motion-reference holds loops of the
/// original Tora transformer, Trajectory Extractor and DPM scheduler on the tiny checkpoint with the extractor's
/// features scaled and the window applied (its README says how they were made). Our pipeline, with the same
/// prompt, flow video and seed 42, must give the same latents after the stored steps and at the end, within the
/// loop tolerance of tests/data/fixtures/README.md (1e-4).
/// </summary>
[Collection(TinyPackageCollection.Name)]
public sealed class MotionReferenceTests(TinyPackageFixture fixture, Xunit.Abstractions.ITestOutputHelper output)
{
    private static readonly Lazy<Dictionary<string, NpyArray>> Latents =
        new(() => NpzFile.Read(TestData.Path("motion-reference/motion_reference.npz")));

    private static readonly Lazy<JsonElement> Settings =
        new(() => JsonDocument.Parse(File.ReadAllText(TestData.Path("motion-reference/motion_reference.json"))).RootElement);

    [Theory]
    [InlineData("strength06_end02_50steps")]   // the case: 50 steps, strength 0.6, window [0, 0.2]
    [InlineData("strength25_start05_4steps")]  // strength apart from the window: 2.5, window [0.5, 1]
    [InlineData("strength0_4steps")]           // strength 0: the fusers still run, on zero features
    public async Task Our_loop_with_motion_controls_matches_the_original(string name)
    {
        var root = Settings.Value;
        var settings = root.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        int steps = settings.GetProperty("num_inference_steps").GetInt32();
        var motion = new MotionControls(settings.GetProperty("motion_strength").GetDouble(),
            settings.GetProperty("motion_start").GetDouble(), settings.GetProperty("motion_end").GetDouble());
        var stored = settings.GetProperty("stored_steps").EnumerateArray().Select(e => e.GetInt32()).ToHashSet();

        // The window picks the same steps as the original's loop did.
        var guided = settings.GetProperty("guided_steps").EnumerateArray().Select(e => e.GetInt32());
        Assert.Equal(guided, Enumerable.Range(0, steps).Where(i => motion.GuidesStep(i, steps)));

        var after = new Dictionary<int, float[]>();
        var result = await fixture.Pipeline.GenerateAsync(new GenerationRequest
        {
            Prompt = root.GetProperty("prompt").GetString()!,
            NegativePrompt = root.GetProperty("negative_prompt").GetString()!,
            FlowVideo = fixture.ReferenceFlowVideo(),
            Steps = steps,
            GuidanceScale = root.GetProperty("guidance_scale").GetDouble(),
            DynamicCfg = root.GetProperty("use_dynamic_cfg").GetBoolean(),
            Noise = new SeededNoiseSource(root.GetProperty("seed").GetUInt64()),
            Motion = motion,
            OnStep = (k, latents) => { if (stored.Contains(k)) after[k] = latents.ToArray(); },
        }, null, default);

        Assert.Equal(stored.Order(), after.Keys.Order());
        foreach (var (k, latents) in after.OrderBy(p => p.Key))
            Compare($"{name}__latents_after_step_{k:D2}", latents);
        Compare($"{name}__final_latents", result.FinalLatents!);
    }

    private void Compare(string key, float[] actual)
    {
        var expected = Latents.Value[key].ToFloats();
        output.WriteLine($"{key}: max abs {Tolerance.MaxAbs(expected, actual):E2}");
        Tolerance.AssertClose(expected, actual, 1e-4, key);
    }
}
