using Tora.Inference.Package;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;
using Tora.Motion.IO;
using Tora.TestSupport;
using Xunit.Abstractions;

namespace Tora.Models.Tests;

/// <summary>
/// The graphs inside the reference 4-step Tora loop (<c>t2v_loop_4steps.npz</c>): the text encoder on the
/// real prompt's token ids, the trajectory encoder run once with flow batch 1 (shared by both CFG halves, as
/// the package does), and the transformer's raw CFG-pair predictions at the first (t = 999) and last
/// (t = 249) steps.
/// </summary>
public sealed class DenoisingLoopReferenceTests(ITestOutputHelper output)
{
    private static readonly Lazy<Dictionary<string, NpyArray>> Loop = new(() => NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz")));

    private void AssertClose(NpyArray actual, NpyArray expected, string what)
    {
        float err = OrtRunner.MaxAbsDiff(actual, expected);
        output.WriteLine($"{what}: max abs error {err:E3}");
        Assert.True(err <= 1e-4f, $"{what}: max abs error {err}");
    }

    [Fact]
    public void Text_encoder_reproduces_the_prompt_embeddings_of_the_loop()
    {
        var loop = Loop.Value;
        var folder = TestData.Path("fixtures/tiny-tora-t2v/text_encoder");
        using var ckpt = Checkpoint.Open(folder);
        var g = T5Encoder.Build(ckpt, T5EncoderConfig.Load(Path.Combine(folder, "config.json")));
        var ids = loop["input_ids_uncond"].ToInt64s().Concat(loop["input_ids_cond"].ToInt64s()).ToArray();
        var result = OrtRunner.RunOnce(g.ToBytes(), new Dictionary<string, NpyArray> { ["input_ids"] = NpyArray.FromInt64s(ids, 2, 226) }, GraphNames.TextEncoder.LastHiddenState);
        AssertClose(result[GraphNames.TextEncoder.LastHiddenState], loop["prompt_embeds_cfg_batch"], "prompt_embeds_cfg_batch");
    }

    [Theory]
    [InlineData(0, "noise_001")]
    [InlineData(3, "latents_after_step_02")]
    public void Transformer_reproduces_the_raw_predictions_of_the_loop(int step, string latentsKey)
    {
        var loop = Loop.Value;
        var folder = TestData.Path("fixtures/tiny-tora-t2v/transformer");
        var config = ToraTransformerConfig.Load(Path.Combine(folder, "config.json"));
        var geometry = LatentGeometry.FromConfig(config);
        using var ckpt = Checkpoint.Open(folder);
        var encoder = TrajectoryEncoder.Build(ckpt, config, geometry);
        var transformer = ToraTransformer.Build(ckpt, config, geometry);

        var mgfNames = Enumerable.Range(0, config.NumLayers).SelectMany(i => new[] { GraphNames.TrajectoryEncoder.Gamma(i), GraphNames.TrajectoryEncoder.Beta(i) }).ToArray();
        var mgf = OrtRunner.RunOnce(encoder.ToBytes(), new Dictionary<string, NpyArray> { ["video_flow"] = loop["flow_latents"] }, mgfNames);
        Assert.Equal(1, mgf[mgfNames[0]].Shape[0]);

        var latents = loop[latentsKey].ToFloats();
        long t = loop["timesteps"].ToInt64s()[step];
        var inputs = new Dictionary<string, NpyArray>(mgf)
        {
            ["hidden_states"] = NpyArray.FromFloats([.. latents, .. latents], 2, 13, 16, 8, 12),
            ["encoder_hidden_states"] = loop["prompt_embeds_cfg_batch"],
            ["timestep"] = NpyArray.FromInt64s([t, t], 2),
            ["rope_cos"] = loop["rope_cos"],
            ["rope_sin"] = loop["rope_sin"],
        };
        var pred = OrtRunner.RunOnce(transformer.ToBytes(), inputs, GraphNames.Transformer.NoisePred)[GraphNames.Transformer.NoisePred];
        AssertClose(pred, loop[$"noise_pred_raw_step_{step:D2}"], $"noise_pred_raw_step_{step:D2} (t = {t})");
    }
}
