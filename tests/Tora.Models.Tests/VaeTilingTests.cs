using Tora.Motion.IO;
using Tora.Inference.Package;
using Tora.Inference.Vae;
using Tora.TestSupport;
using Xunit.Abstractions;

namespace Tora.Models.Tests;

/// <summary>
/// Our tiled VAE decode and encode against diffusers' own <c>tiled_decode</c> / <c>tiled_encode</c> on the tiny VAE
/// (tests/data/vae-tiling: made by make_reference.py, README there).
/// </summary>
public sealed class VaeTilingTests(VaeFixture f, ITestOutputHelper output) : IClassFixture<VaeFixture>
{
    private static readonly Lazy<Dictionary<string, NpyArray>> Reference =
        new(() => NpzFile.Read(TestData.Path("vae-tiling/tiled_reference.npz")));

    [Theory]
    [InlineData(48, 40)]
    [InlineData(48, 80)]
    public void Tiled_decode_gives_diffusers_frames(int tileHeight, int tileWidth)
    {
        using var decoder = f.NewDecoder(new VaeTiling(tileHeight, tileWidth));
        var latents = f.Decode["latents"];
        var sample = decoder.DecodeUnscaled(latents.ToFloats(), 13, FrameLayout.ChannelsFirst);
        var frames = VideoFrames.ToUint8(sample, 3, 49, 64, 96);
        var expected = Reference.Value[$"frames_u8_{tileHeight}x{tileWidth}"];
        Assert.Equal([49, 64, 96, 3], expected.Shape);
        var (exact, worst) = OrtRunner.CompareBytes(frames, expected.Data);
        output.WriteLine($"tiles {tileHeight}x{tileWidth}: {exact:P3} exact, worst {worst} levels");
        Assert.True(worst <= 1, $"a frame value is {worst} levels off");
        Assert.True(exact >= 0.999, $"only {exact:P3} of the frame values are exact");
    }

    [Fact]
    public void Tiled_decode_blends_seams_so_it_differs_from_the_whole_frame_decode()
    {
        using var whole = f.NewDecoder();
        using var tiled = f.NewDecoder(new VaeTiling(48, 40));
        var latents = f.Decode["latents"].ToFloats();
        var a = whole.DecodeUnscaled(latents, 13, FrameLayout.ChannelsFirst);
        var b = tiled.DecodeUnscaled(latents, 13, FrameLayout.ChannelsFirst);
        float diff = OrtRunner.MaxAbsDiff(NpyArray.FromFloats(a, 3, 49, 64, 96), NpyArray.FromFloats(b, 3, 49, 64, 96));
        Assert.True(diff > 0.1f, $"tiled and whole decodes differ by only {diff}");
        // The 8-bit path (what the pipeline uses) decodes the same tiles.
        Assert.Equal(VideoFrames.ToUint8(tiled.Decode(latents, 13, FrameLayout.ChannelsFirst), 3, 49, 64, 96),
            tiled.DecodeToUint8(latents, 13, FrameLayout.ChannelsFirst));
    }

    [Theory]
    [InlineData(48, 40)]
    [InlineData(48, 80)]
    public void Tiled_encode_gives_diffusers_moments(int tileHeight, int tileWidth)
    {
        using var encoder = f.NewEncoder(new VaeTiling(tileHeight, tileWidth));
        var video = Reference.Value["video_u8"];
        var frames = new float[video.Data.Length];
        for (int i = 0; i < frames.Length; i++) frames[i] = video.Data[i] / 127.5f - 1f;
        var posterior = encoder.Encode(frames, 49, FrameLayout.ChannelsFirst);
        var moments = posterior.Mean.Concat(posterior.LogVar).ToArray();
        float err = OrtRunner.MaxAbsDiff(NpyArray.FromFloats(moments, 1, 32, 13, 8, 12), Reference.Value[$"moments_{tileHeight}x{tileWidth}"]);
        output.WriteLine($"tiles {tileHeight}x{tileWidth}: moments max abs error {err:E3}");
        Assert.True(err <= 1e-4f, $"max abs error {err}"); // fixtures/README.md: VAE outputs, max abs
    }

    [Theory]
    [InlineData(32, 48, "70x110")] // diffusers' default for the tiny VAE: half its 64 x 96 sample size
    [InlineData(40, 64, "66x100")]
    public void A_tile_size_that_does_not_cover_the_frame_is_refused_with_what_diffusers_would_give(int tileHeight, int tileWidth, string size)
    {
        var e = Assert.Throws<ArgumentException>(() => f.NewDecoder(new VaeTiling(tileHeight, tileWidth)));
        Assert.Contains(size, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Throws<ArgumentException>(() => f.NewEncoder(new VaeTiling(tileHeight, tileWidth)));
        // diffusers itself returns those sizes (the reference run records them).
        var json = File.ReadAllText(TestData.Path("vae-tiling/tiled_reference.json"));
        Assert.Contains(size.Replace("x", ",\n      "), json.Replace("\r", ""));
    }

    [Fact]
    public void A_graph_built_for_one_fixed_size_refuses_to_tile()
    {
        // Packages compiled before the VAE graphs had symbolic sizes: a stand-in decoder with fixed 8 x 12 latents.
        var g = new Tora.Models.Graph.GraphBuilder("vae_decoder", Tora.Models.Graph.ElementType.Float32);
        var latents = g.Input(GraphNames.Vae.Latents, Tora.Models.Graph.ElementType.Float32, 1, 16, "latent_frames", 8, 12);
        g.Output(g.RepeatPixels(g.Slice(latents, 1, 0, 3), 8), GraphNames.Vae.Sample, Tora.Models.Graph.ElementType.Float32, 1, 3, "frames", 64, 96);
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(g.ToBytes());
        using (var whole = new VaeDecoder(session, 0.7, 8, 12)) Assert.Equal((64, 96), (whole.Height, whole.Width));
        var e = Assert.Throws<ArgumentException>(() => new VaeDecoder(session, 0.7, 8, 12, tiling: new VaeTiling(48, 40)));
        Assert.Contains("cannot tile", e.Message);
    }

    [Fact]
    public void A_tile_as_large_as_the_frame_decodes_the_whole_frame()
    {
        // diffusers only tiles when the latents are larger than one tile.
        using var whole = f.NewDecoder();
        using var oneTile = f.NewDecoder(new VaeTiling(64, 96));
        var latents = f.Decode["latents"].ToFloats();
        Assert.Equal(whole.DecodeUnscaled(latents, 13, FrameLayout.ChannelsFirst), oneTile.DecodeUnscaled(latents, 13, FrameLayout.ChannelsFirst));
    }
}
