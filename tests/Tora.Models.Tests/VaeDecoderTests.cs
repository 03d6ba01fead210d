using Tora.Motion.IO;
using Tora.Inference.Vae;
using Xunit.Abstractions;

namespace Tora.Models.Tests;

public sealed class VaeDecoderTests(VaeFixture f, ITestOutputHelper output) : IClassFixture<VaeFixture>
{
    private const float Tolerance = 1e-4f; // tests/data/fixtures/README.md: VAE decoder sample, max abs

    [Fact]
    public void Chunked_decode_matches_the_reference_sample()
    {
        using var decoder = f.NewDecoder();
        var latents = f.Decode["latents"];
        var sample = decoder.DecodeUnscaled(latents.ToFloats(), latents.Shape[2], FrameLayout.ChannelsFirst);
        float err = OrtRunner.MaxAbsDiff(NpyArray.FromFloats(sample, 1, 3, 49, 64, 96), f.Decode["sample"]);
        output.WriteLine($"vae decode max abs error {err:E3}");
        Assert.True(err <= Tolerance, $"max abs error {err}");
    }

    [Fact]
    public void Decoding_only_the_first_chunk_gives_the_first_nine_frames()
    {
        // The decoder is causal and its statistics are per chunk, so latent frames 0-2 alone decode to the
        // clip's frames 0-8 exactly as in the full decode (the original's first chunk).
        using var decoder = f.NewDecoder();
        var all = f.Decode["latents"].ToFloats();
        int plane = 8 * 12;
        var first = new float[16 * 3 * plane];
        for (int c = 0; c < 16; c++) all.AsSpan(c * 13 * plane, 3 * plane).CopyTo(first.AsSpan(c * 3 * plane));
        var sample = decoder.DecodeUnscaled(first, 3, FrameLayout.ChannelsFirst);
        var reference = f.Decode["sample"].ToFloats();
        var expected = new float[3 * 9 * 64 * 96];
        for (int c = 0; c < 3; c++) reference.AsSpan(c * 49 * 64 * 96, 9 * 64 * 96).CopyTo(expected.AsSpan(c * 9 * 64 * 96));
        float err = OrtRunner.MaxAbsDiff(NpyArray.FromFloats(sample, 3, 9, 64, 96), NpyArray.FromFloats(expected, 3, 9, 64, 96));
        Assert.True(err <= Tolerance, $"max abs error {err}");
    }

    [Fact]
    public void The_carried_cache_changes_the_later_chunks()
    {
        // Latent frames 3-4 decoded as a clip of their own (no cache: first-frame padding) must differ from
        // frames 9-16 of the full decode, which saw the cache of chunk 0 — the cache is not a no-op.
        using var decoder = f.NewDecoder();
        var all = f.Decode["latents"].ToFloats();
        int plane = 8 * 12, framePlane = 64 * 96;
        var pair = new float[16 * 2 * plane];
        for (int c = 0; c < 16; c++) all.AsSpan((c * 13 + 3) * plane, 2 * plane).CopyTo(pair.AsSpan(c * 2 * plane));
        var alone = decoder.DecodeUnscaled(pair, 2, FrameLayout.ChannelsFirst);
        var reference = f.Decode["sample"].ToFloats();
        var expected = new float[3 * 8 * framePlane];
        for (int c = 0; c < 3; c++) reference.AsSpan((c * 49 + 9) * framePlane, 8 * framePlane).CopyTo(expected.AsSpan(c * 8 * framePlane));
        float diff = OrtRunner.MaxAbsDiff(NpyArray.FromFloats(alone, 3, 8, 64, 96), NpyArray.FromFloats(expected, 3, 8, 64, 96));
        Assert.True(diff > 1e-2f, $"decoding without the cache changed frames 9-16 by only {diff}");
    }

    [Fact]
    public void Decoding_twice_gives_the_same_frames()
    {
        using var decoder = f.NewDecoder();
        var latents = f.Loop["final_latents"].ToFloats();
        Assert.Equal(decoder.Decode(latents, 13, FrameLayout.FramesFirst), decoder.Decode(latents, 13, FrameLayout.FramesFirst));
    }

    [Fact]
    public void Final_latents_decode_to_the_reference_uint8_frames()
    {
        using var decoder = f.NewDecoder();
        var latents = f.Loop["final_latents"];
        var frames = decoder.DecodeToUint8(latents.ToFloats(), latents.Shape[1], FrameLayout.FramesFirst);
        var expected = f.Loop["frames_uint8_THWC"];
        var (share, worst) = OrtRunner.CompareBytes(frames, expected.Data);
        output.WriteLine($"uint8 frames: max diff {worst}, exact {share:P3}");
        Assert.True(worst <= 1, $"max difference {worst} levels");
        Assert.True(share >= 0.999, $"only {share:P3} exact");
    }

    [Fact]
    public void Chunkwise_uint8_conversion_equals_converting_the_whole_clip()
    {
        using var decoder = f.NewDecoder();
        var latents = f.Loop["final_latents"].ToFloats();
        var whole = VideoFrames.ToUint8(decoder.Decode(latents, 13, FrameLayout.FramesFirst), 3, 49, 64, 96);
        Assert.Equal(whole, decoder.DecodeToUint8(latents, 13, FrameLayout.FramesFirst));
    }

    [Fact]
    public void Uint8_conversion_clamps_and_rounds()
    {
        // (x / 2 + 0.5) · 255, rounded: −2 → clamp 0; −1 → 0; 0 → 127.5 → 128; 1 → 255; 3 → clamp 255;
        // 0.01 → 128.775 → 129; −0.01 → 126.225 → 126.
        float[] x = [-2f, -1f, 0f, 1f, 3f, 0.01f, -0.01f];
        Assert.Equal(new byte[] { 0, 0, 128, 255, 255, 129, 126 }, VideoFrames.ToUint8(x, 1, 1, 1, x.Length));
    }

    [Fact]
    public void Decodes_49_frames_from_13_latent_frames()
    {
        using var decoder = f.NewDecoder();
        Assert.Equal(49, decoder.FramesFor(13));
        Assert.Equal((64, 96, 3), (decoder.Height, decoder.Width, decoder.Channels));
    }

    [Fact]
    public void Rejects_latents_of_another_size()
    {
        using var decoder = f.NewDecoder();
        var e = Assert.Throws<ArgumentException>(() => decoder.Decode(new float[16 * 13 * 8 * 11], 13, FrameLayout.FramesFirst));
        Assert.Contains("8 x 12", e.Message);
    }

    [Fact]
    public void Rejects_a_session_that_is_not_a_vae_decoder()
    {
        Assert.Throws<InvalidDataException>(() => new VaeDecoder(f.EncoderSession, f.Config.ScalingFactor, 8, 12));
    }
}

public sealed class VaeEncoderTests(VaeFixture f, ITestOutputHelper output) : IClassFixture<VaeFixture>
{
    [Fact]
    public void Flow_video_encodes_to_the_reference_flow_latents()
    {
        using var encoder = f.NewEncoder();
        var video = f.Loop["flow_video_uint8_TCHW"];
        var frames = VideoFrames.FromUint8Fchw(video.Data, video.Shape[0], video.Shape[1], video.Shape[2], video.Shape[3]);
        var posterior = encoder.Encode(frames, video.Shape[0], FrameLayout.ChannelsFirst);
        Assert.Equal((16, 13, 8, 12), (posterior.Channels, posterior.Frames, posterior.Height, posterior.Width));
        var latents = posterior.Sample(f.Loop["noise_000"].ToFloats(), f.Config.ScalingFactor, FrameLayout.FramesFirst);
        float err = OrtRunner.MaxAbsDiff(NpyArray.FromFloats(latents, 1, 13, 16, 8, 12), f.Loop["flow_latents"]);
        output.WriteLine($"flow latents max abs error {err:E3}");
        Assert.True(err <= 1e-4f, $"max abs error {err}");
    }

    [Fact]
    public void Frame_order_of_the_input_does_not_change_the_posterior()
    {
        using var encoder = f.NewEncoder();
        var video = f.Loop["flow_video_uint8_TCHW"];
        var channelsFirst = VideoFrames.FromUint8Fchw(video.Data, 49, 3, 64, 96);
        var framesFirst = new float[channelsFirst.Length];
        int plane = 64 * 96;
        for (int c = 0; c < 3; c++)
            for (int t = 0; t < 49; t++)
                channelsFirst.AsSpan((c * 49 + t) * plane, plane).CopyTo(framesFirst.AsSpan((t * 3 + c) * plane));
        var a = encoder.Encode(channelsFirst, 49, FrameLayout.ChannelsFirst);
        var b = encoder.Encode(framesFirst, 49, FrameLayout.FramesFirst);
        Assert.Equal(a.Mean, b.Mean);
        Assert.Equal(a.LogVar, b.LogVar);
    }

    [Fact]
    public void Encodes_13_latent_frames_from_49_and_rejects_other_sizes()
    {
        using var encoder = f.NewEncoder();
        Assert.Equal((13, 1, 3), (encoder.LatentFramesFor(49), encoder.LatentFramesFor(1), encoder.LatentFramesFor(9)));
        var e = Assert.Throws<ArgumentException>(() => encoder.Encode(new float[3 * 49 * 64 * 95], 49, FrameLayout.FramesFirst));
        Assert.Contains("64 x 96", e.Message);
        var posterior = new VaePosterior(new float[4], new float[4], 1, 1, 2, 2);
        Assert.Throws<ArgumentException>(() => posterior.Sample(new float[3], 0.7, FrameLayout.ChannelsFirst));
    }

    [Fact]
    public void An_image_encodes_to_one_latent_frame()
    {
        // One frame is one batch: every causal conv pads with the frame itself, the time downsamplers keep it.
        using var encoder = f.NewEncoder();
        var video = f.Loop["flow_video_uint8_TCHW"];
        var image = VideoFrames.FromUint8Fchw(video.Data.AsSpan(0, 3 * 64 * 96), 1, 3, 64, 96);
        var posterior = encoder.Encode(image, 1, FrameLayout.ChannelsFirst);
        Assert.Equal(1, posterior.Frames);
        Assert.All(posterior.Mean, v => Assert.True(float.IsFinite(v)));
    }
}

public sealed class VaeGraphShapeArithmeticTests(VaeFixture f) : IClassFixture<VaeFixture>
{
    [Fact]
    public void The_vae_graphs_read_no_shapes_at_run_time()
    {
        // Shape-derived int64 arithmetic is placed on the CPU by ONNX Runtime (docs/gpu.md): the frame counts
        // come in as host-computed inputs instead.
        foreach (var bytes in new[] { f.DecoderModel, f.EncoderModel })
        {
            var model = Tora.Models.Onnx.ModelProto.Parser.ParseFrom(bytes);
            Assert.DoesNotContain(model.Graph.Node, n => n.OpType is "Shape" or "Size" or "Mod" or "Neg");
            Assert.Contains(model.Graph.Input, i => i.Name == VaeFrameInputs.CacheFill);
        }
    }

    [Theory]
    [InlineData(9, new long[] { 1, 1, 1, 1, 1 }, new long[] { 1, 1, 1, 1, 1 })]
    [InlineData(8, new long[] { 1, 1, 0, 1, 1 }, new long[] { 1, 1, 0, 1, 1 })]
    [InlineData(1, new long[] { 1, 1, 1, 1, 1 }, new long[] { 1, 1, 1, 1, 1 })]
    [InlineData(6, new long[] { 1, 1, 0, 1, 1 }, new long[] { 1, 1, 1, 1, 1 })]
    public void Frame_inputs_follow_the_chunk_length(int frames, long[] pad0, long[] pad1)
    {
        Assert.Equal(pad0, VaeFrameInputs.Value(VaeFrameInputs.DownsamplePadPrefix + 0, frames, 0, 2));
        Assert.Equal(pad1, VaeFrameInputs.Value(VaeFrameInputs.DownsamplePadPrefix + 1, frames, 0, 2));
        Assert.Equal(new long[] { frames % 2 }, VaeFrameInputs.Value(VaeFrameInputs.OddFrames, frames, 2, 2));
        Assert.Equal(new long[] { 1, 1, 2, 1, 1 }, VaeFrameInputs.Value(VaeFrameInputs.CacheFill, frames, 0, 2));
        Assert.Equal(new long[] { 1, 1, 0, 1, 1 }, VaeFrameInputs.Value(VaeFrameInputs.CacheFill, frames, 2, 2));
        Assert.Throws<InvalidDataException>(() => VaeFrameInputs.Value("frames.unknown", frames, 0, 2));
    }
}
