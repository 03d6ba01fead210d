using Tora.Inference.Package;
using Tora.Models.Architectures;
using Tora.Motion.IO;
using Xunit.Abstractions;

namespace Tora.Models.Tests;

public sealed class ToraTransformerTests(ToraReferenceFixture f, ITestOutputHelper output) : IClassFixture<ToraReferenceFixture>
{
    private const float Tolerance = 1e-4f; // tests/data/fixtures/README.md: transformer outputs, block outputs, temb, TE features, fuser modulations

    private void AssertClose(NpyArray actual, NpyArray expected, string what)
    {
        float err = OrtRunner.MaxAbsDiff(actual, expected);
        output.WriteLine($"{what}: max abs error {err:E3}");
        Assert.True(err <= Tolerance, $"{what}: max abs error {err}");
    }

    [Theory]
    [InlineData(999)]
    [InlineData(500)]
    public void Noise_prediction_with_the_trajectory_matches_the_reference(int t) =>
        AssertClose(f.WithFlow[t][GraphNames.Transformer.NoisePred], f.Reference[$"noise_pred_t{t}"], $"noise_pred_t{t}");

    [Fact]
    public void Noise_prediction_without_the_trajectory_matches_the_reference() =>
        AssertClose(f.NoFlow999[GraphNames.Transformer.NoisePred], f.Reference["noise_pred_t999_no_flow"], "noise_pred_t999_no_flow");

    [Theory]
    [InlineData(999)]
    [InlineData(500)]
    public void Time_embedding_matches_the_reference(int t) =>
        AssertClose(f.WithFlow[t][ToraTransformer.Temb], f.Reference[$"temb_t{t}"], $"temb_t{t}");

    [Fact]
    public void Every_block_output_matches_the_reference()
    {
        for (int i = 0; i < f.Config.NumLayers; i++)
        {
            AssertClose(f.WithFlow[999][ToraTransformer.BlockHidden(i)], f.Reference[$"block_{i}_hidden_states_t999"], $"block {i} video");
            AssertClose(f.WithFlow[999][ToraTransformer.BlockEncoderHidden(i)], f.Reference[$"block_{i}_encoder_hidden_states_t999"], $"block {i} text");
        }
    }

    [Fact]
    public void Switching_motion_guidance_off_changes_the_prediction()
    {
        // Guards the no-flow path against comparing two identical runs: the trajectory must matter.
        float diff = OrtRunner.MaxAbsDiff(f.NoFlow999[GraphNames.Transformer.NoisePred], f.WithFlow[999][GraphNames.Transformer.NoisePred]);
        Assert.True(diff > 1e-2f, $"motion guidance changed the prediction by only {diff}");
    }
}

public sealed class TrajectoryEncoderTests(ToraReferenceFixture f, ITestOutputHelper output) : IClassFixture<ToraReferenceFixture>
{
    private void AssertClose(NpyArray actual, NpyArray expected, string what)
    {
        float err = OrtRunner.MaxAbsDiff(actual, expected);
        output.WriteLine($"{what}: max abs error {err:E3}");
        Assert.True(err <= 1e-4f, $"{what}: max abs error {err}");
    }

    [Fact]
    public void Extractor_features_match_the_reference()
    {
        for (int i = 0; i < f.Config.NumLayers; i++)
            AssertClose(f.Encoder[TrajectoryEncoder.Feature(i)], f.Reference[$"te_feature_{i}"], $"te_feature_{i}");
    }

    [Fact]
    public void Fuser_modulations_match_the_reference()
    {
        for (int i = 0; i < f.Config.NumLayers; i++)
        {
            AssertClose(ToFramesChannelsFirst(f.Encoder[GraphNames.TrajectoryEncoder.Gamma(i)]), f.Reference[$"mgf_gamma_{i}"], $"mgf_gamma_{i}");
            AssertClose(ToFramesChannelsFirst(f.Encoder[GraphNames.TrajectoryEncoder.Beta(i)]), f.Reference[$"mgf_beta_{i}"], $"mgf_beta_{i}");
        }
    }

    /// <summary>Our token layout [N, T·h·w, D] → the reference's [(N·T), D, h, w].</summary>
    private NpyArray ToFramesChannelsFirst(NpyArray tokens)
    {
        int n = tokens.Shape[0], T = f.Geometry.LatentFrames, h = f.Geometry.PatchRows, w = f.Geometry.PatchColumns, d = tokens.Shape[2];
        var src = tokens.ToFloats();
        var dst = new float[src.Length];
        for (int b = 0; b < n * T; b++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < d; c++)
                        dst[((b * d + c) * h + y) * w + x] = src[((b * h + y) * w + x) * d + c];
        return NpyArray.FromFloats(dst, n * T, d, h, w);
    }
}
