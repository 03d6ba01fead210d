using Tora.Inference.Embeddings;
using Tora.Motion.IO;
using Tora.TestSupport;

namespace Tora.Inference.Tests.Sampling;

public class EmbeddingTests
{
    [Fact]
    public void Rope_rows_at_480x720_and_13_frames_match_diffusers()
    {
        var z = NpzFile.Read(TestData.Path("golden/sampler/rope_480x720_13f.npz"));
        var (cos, sin) = RotaryPositionalEmbedding3D.Compute(64, 13, 30, 45, 30, 45);
        Assert.Equal(17550 * 64, cos.Length);
        var rows = z["rows"].ToInt64s();
        var cosRows = z["cos_rows"].ToFloats();
        var sinRows = z["sin_rows"].ToFloats();
        for (var r = 0; r < rows.Length; r++)
        {
            var row = (int)rows[r];
            DpmStepGoldenTests.AssertClose(cosRows.AsSpan(r * 64, 64), cos.AsSpan(row * 64, 64), 1e-6, $"cos row {row}");
            DpmStepGoldenTests.AssertClose(sinRows.AsSpan(r * 64, 64), sin.AsSpan(row * 64, 64), 1e-6, $"sin row {row}");
        }
        Assert.Equal(z["cos_sum"].ToDoubles()[0], cos.Sum(v => (double)v), 1e-2);
        Assert.Equal(z["sin_sum"].ToDoubles()[0], sin.Sum(v => (double)v), 1e-2);
    }

    [Fact]
    public void Rope_tables_of_the_tiny_model_match_the_reference_loop()
    {
        var loop = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/t2v_loop_4steps.npz"));
        // 64 × 96 video → 8 × 12 latents → 4 × 6 patches; the tiny transformer's sample size 8 × 12 gives the base grid 4 × 6.
        var (cos, sin) = RotaryPositionalEmbedding3D.Compute(16, 13, 4, 6, 4, 6);
        DpmStepGoldenTests.AssertClose(loop["rope_cos"].ToFloats(), cos, 1e-6, "rope_cos");
        DpmStepGoldenTests.AssertClose(loop["rope_sin"].ToFloats(), sin, 1e-6, "rope_sin");
    }

    [Theory]
    [InlineData(4, 6, 30, 45, 0, 0, 30, 45)]
    [InlineData(30, 45, 30, 45, 0, 0, 30, 45)]
    [InlineData(30, 30, 30, 45, 0, 8, 30, 38)]
    [InlineData(40, 45, 30, 45, 0, 6, 30, 40)]
    [InlineData(30, 40, 30, 45, 0, 2, 30, 42)] // Python rounds 2.5 to 2
    public void The_crop_region_fits_the_grid_into_the_base_grid(int gh, int gw, int bh, int bw, int top, int left, int bottom, int right) =>
        Assert.Equal((top, left, bottom, right), RotaryPositionalEmbedding3D.CropRegion(gh, gw, bh, bw));

    [Fact]
    public void Timestep_embedding_matches_diffusers()
    {
        var golden = GoldenJson.Load(TestData.Path("golden/sampler/sampler.json")).GetProperty("timestep_embedding");
        var idx = golden.GetProperty("idx").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        var embedding = new float[golden.GetProperty("dim").GetInt32()];
        foreach (var t in new[] { 999, 500 })
        {
            TimestepEmbedding.Compute(t, embedding);
            var expected = golden.GetProperty($"values_t{t}").Numbers();
            for (var i = 0; i < idx.Length; i++)
                Assert.True(Math.Abs(expected[i] - embedding[idx[i]]) <= 1e-6, $"t={t} [{idx[i]}]: {embedding[idx[i]]:R}, expected {expected[i]:R}");
        }
    }

    [Fact]
    public void Timestep_embedding_of_the_tiny_model_is_cos_then_sin()
    {
        var e = new float[16];
        TimestepEmbedding.Compute(0, e);
        Assert.Equal(Enumerable.Repeat(1f, 8).Concat(Enumerable.Repeat(0f, 8)), e);
    }
}
