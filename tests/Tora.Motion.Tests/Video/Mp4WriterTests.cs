using Tora.Motion.Trajectories;
using Tora.Motion.Video;
using Tora.TestSupport;

namespace Tora.Motion.Tests.Video;

/// <summary>MP4 encoding through the real ffmpeg, checked with ffprobe and by decoding the frames back.</summary>
public sealed class Mp4WriterTests
{
    private static RgbVideo FlowPreview(int frames, int height, int width) =>
        TrajectoryPreview.FlowVideo(FlowVideo.FromTrajectories([TrajectoryPresets.Get("coaster").Trajectory], new VideoGeometry(frames, height, width)));

    [Fact]
    public async Task Writes_h264_yuv420p_with_the_requested_frame_rate_and_the_index_first()
    {
        var video = FlowPreview(9, 96, 128);
        var path = Path.Combine(TestData.TempFolder(), "sub", "flow.mp4");
        await Mp4Writer.WriteAsync(video, path, new Mp4Options { Fps = 12 });

        var probe = MediaProbe.Probe(path);
        Assert.Equal(("h264", "yuv420p", 128, 96, 9, "12/1"), (probe.Codec, probe.PixelFormat, probe.Width, probe.Height, probe.Frames, probe.FrameRate));
        var boxes = MediaProbe.TopLevelBoxes(path).ToList();
        Assert.True(boxes.IndexOf("moov") >= 0 && boxes.IndexOf("moov") < boxes.IndexOf("mdat"), $"faststart: boxes are {string.Join(",", boxes)}");
    }

    [Fact]
    public async Task Decoded_frames_are_close_to_the_input()
    {
        var video = FlowPreview(5, 64, 96);
        var path = Path.Combine(TestData.TempFolder(), "flow.mp4");
        await Mp4Writer.WriteAsync(video, path, new Mp4Options { Crf = 10 });
        var decoded = MediaProbe.DecodeRgb(path);
        var original = video.Data.Span;
        Assert.Equal(original.Length, decoded.Length);
        double total = 0;
        for (var i = 0; i < decoded.Length; i++) total += Math.Abs(decoded[i] - original[i]);
        Assert.True(total / decoded.Length < 2.0, $"mean abs error {total / decoded.Length}");
    }

    [Fact]
    public async Task Odd_sizes_are_padded_to_even_for_yuv420p()
    {
        var video = FlowPreview(3, 63, 97);
        var path = Path.Combine(TestData.TempFolder(), "odd.mp4");
        await Mp4Writer.WriteAsync(video, path);
        var probe = MediaProbe.Probe(path);
        Assert.Equal((98, 64, 3, "yuv420p"), (probe.Width, probe.Height, probe.Frames, probe.PixelFormat));
    }

    [Fact]
    public async Task Streams_get_a_fragmented_mp4_that_decodes()
    {
        var bytes = await Mp4Writer.EncodeAsync(FlowPreview(7, 48, 64));
        var path = Path.Combine(TestData.TempFolder(), "stream.mp4");
        await File.WriteAllBytesAsync(path, bytes);
        var probe = MediaProbe.Probe(path);
        Assert.Equal(("h264", 64, 48, 7), (probe.Codec, probe.Width, probe.Height, probe.Frames));
        Assert.Contains("moof", MediaProbe.TopLevelBoxes(path));
    }

    [Fact]
    public async Task Bad_options_are_rejected_before_ffmpeg_runs()
    {
        var video = FlowPreview(2, 8, 8);
        var path = Path.Combine(TestData.TempFolder(), "x.mp4");
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Mp4Writer.WriteAsync(video, path, new Mp4Options { Crf = 60 }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Mp4Writer.WriteAsync(video, path, new Mp4Options { Fps = 0 }));
        await Assert.ThrowsAsync<ArgumentException>(() => Mp4Writer.WriteAsync(video, path, new Mp4Options { Preset = "fast; rm" }));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void RgbVideo_checks_its_shape() =>
        Assert.Throws<ArgumentException>(() => new RgbVideo(new byte[10], 1, 2, 2));
}
