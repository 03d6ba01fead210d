using System.Text.Json;
using Tora.Motion.IO;
using Tora.Motion.Trajectories;
using Tora.TestSupport;

namespace Tora.Motion.Tests.Trajectories;

/// <summary>
/// Compares the whole front end with outputs of the original code (tests/data/golden/trajectories, tolerances
/// from its README: points and sparse entries exact, blurred flow ≤ 1e-4 px, max_norm 1e-6 relative, RGB equal
/// to rgb_directconv on ≥ 99.99 % of values and never off by more than 1).
/// </summary>
public sealed class GoldenTrajectoryTests
{
    private static readonly VideoGeometry Video = VideoGeometry.Default;
    private static readonly Lazy<JsonElement> Golden = new(() =>
        JsonDocument.Parse(File.ReadAllText(TestData.Path("golden/trajectories/trajectories.json"))).RootElement);

    private static Trajectory Preset(string name) =>
        TrajectoryTextReader.ReadFile(TestData.Path($"tora-data/trajs/{name}.txt")).Trajectories[0];

    [Theory]
    [InlineData("coaster")]
    [InlineData("sawtooth")]
    public void Single_trajectory_points_match_the_original(string name)
    {
        var g = Golden.Value.GetProperty("trajectories").GetProperty(name);
        var t = Preset(name);
        Assert.Equal(Pairs(g.GetProperty("file_points")), t.Points.Select(p => ((int)p.X, (int)p.Y)));
        var resampled = TrajectoryResampler.ResampleInSpace(t, Video.Frames);
        Assert.Equal(Pairs(g.GetProperty("points_256")), resampled.Select(p => ((int)p.X, (int)p.Y)));
        var video = TrajectoryResampler.ToVideo(t, Video);
        Assert.Equal(Pairs(g.GetProperty("points_video")[0]), video.Select(p => (p.X, p.Y)));
    }

    [Theory]
    [InlineData("coaster", "coaster")]
    [InlineData("sawtooth", "sawtooth")]
    [InlineData("multi", "multi_infinity_wave")]
    public void Flow_video_matches_the_original(string name, string fileStem)
    {
        var g = name == "multi"
            ? Golden.Value.GetProperty("multi").GetProperty("infinity+wave")
            : Golden.Value.GetProperty("trajectories").GetProperty(name);
        var trajectories = name == "multi" ? new[] { Preset("infinity"), Preset("wave") } : [Preset(name)];
        var flow = FlowVideo.FromTrajectories(trajectories, Video);

        var tracks = TrajectoryResampler.ToVideo(trajectories, Video);
        var expectedTracks = g.GetProperty("points_video").EnumerateArray().Select(Pairs).ToArray();
        Assert.Equal(expectedTracks.Length, tracks.Length);
        for (var i = 0; i < tracks.Length; i++) Assert.Equal(expectedTracks[i], tracks[i].Select(p => (p.X, p.Y)));

        var expectedEntries = g.GetProperty("sparse_flow_entries_t_x_y_dx_dy").EnumerateArray()
            .Select(e => (e[0].GetInt32(), e[1].GetInt32(), e[2].GetInt32(), e[3].GetDouble(), e[4].GetDouble()))
            .OrderBy(e => e.Item1).ThenBy(e => e.Item3).ThenBy(e => e.Item2).ToArray();
        var entries = flow.SparseEntries.Select(e => (e.Frame, e.X, e.Y, (double)e.Dx, (double)e.Dy))
            .OrderBy(e => e.Frame).ThenBy(e => e.Y).ThenBy(e => e.X).ToArray();
        Assert.Equal(expectedEntries, entries);

        var maxNorm = g.GetProperty("max_norm").GetDouble();
        Assert.InRange(flow.MaxNorm, maxNorm * (1 - 1e-6), maxNorm * (1 + 1e-6));

        AssertBlurredFlow(flow, NpzFile.Read(TestData.Path($"golden/trajectories/flow_{fileStem}.npz")));
        var rgb = flow.ToRgb();
        var golden = NpzFile.Read(TestData.Path($"golden/trajectories/rgb_{fileStem}.npz"))["rgb_directconv"];
        RgbAssert.MatchesTchw(golden, rgb, Video);
    }

    [Fact]
    public void Coaster_at_64x96_matches_the_tiny_fixture()
    {
        var geometry = new VideoGeometry(49, 64, 96);
        var npz = NpzFile.Read(TestData.Path("fixtures/tiny-tora-t2v/reference/flow_video_coaster_64x96.npz"));
        var flow = FlowVideo.FromTrajectories([Preset("coaster")], geometry);

        var points = npz["points_video"].ToInt64s();
        var track = TrajectoryResampler.ToVideo(Preset("coaster"), geometry);
        Assert.Equal(points, track.SelectMany(p => new long[] { p.X, p.Y }));

        var maxNorm = npz["max_norm"].ToDoubles()[0];
        Assert.InRange(flow.MaxNorm, maxNorm * (1 - 1e-6), maxNorm * (1 + 1e-6));

        var expected = npz["blurred_flow_frame24"].ToFloats();
        var actual = new float[geometry.FramePixels * 2];
        flow.WriteBlurredFlow(24, actual);
        for (var i = 0; i < actual.Length; i++) Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-4, $"flow[{i}] {actual[i]} vs {expected[i]}");

        RgbAssert.MatchesTchw(npz["rgb_directconv_uint8_TCHW"], flow.ToRgb(), geometry);
    }

    [Theory]
    [InlineData("two_points")]
    [InlineData("three_points")]
    [InlineData("four_points")]
    [InlineData("exactly_49")]
    [InlineData("static")]
    public void Edge_cases_match_the_original(string name)
    {
        var g = Golden.Value.GetProperty("edge_cases").GetProperty(name);
        var input = Pairs(g.GetProperty("input"));
        var t = Trajectory.FromCanvas256(input);
        var resampled = TrajectoryResampler.ResampleInSpace(t, Video.Frames);
        Assert.Equal(Pairs(g.GetProperty("points_256")), resampled.Select(p => ((int)p.X, (int)p.Y)));
        var video = TrajectoryResampler.ToVideo(t, Video);
        Assert.Equal(Pairs(g.GetProperty("points_video")[0]), video.Select(p => (p.X, p.Y)));

        var flow = FlowVideo.FromTrajectories([t], Video);
        var frame = new float[Video.FramePixels * 2];
        var maxAbs = 0f;
        for (var f = 0; f < Video.Frames; f++)
        {
            flow.WriteBlurredFlow(f, frame);
            foreach (var v in frame) maxAbs = Math.Max(maxAbs, Math.Abs(v));
        }
        Assert.InRange(maxAbs, g.GetProperty("flow_max_abs").GetDouble() - 1e-4, g.GetProperty("flow_max_abs").GetDouble() + 1e-4);

        if (g.TryGetProperty("rgb_unique_values", out var unique))
        {
            var values = flow.ToRgb().Distinct().Select(b => (int)b).Order().ToArray();
            Assert.Equal(unique.EnumerateArray().Select(v => v.GetInt32()), values);
        }
    }

    [Fact]
    public void Blur_kernel_has_the_original_shape()
    {
        var k = Golden.Value.GetProperty("blur_kernel");
        var g = FlowBlur.Kernel;
        Assert.Equal(99, g.Length);
        Close(k.GetProperty("center").GetDouble(), g[49] * g[49]);
        Close(k.GetProperty("corner").GetDouble(), g[0] * g[0]);
        Close(k.GetProperty("edge_mid").GetDouble(), g[0] * g[49]);
        double sum = 0;
        foreach (var a in g) foreach (var b in g) sum += a * b;
        Close(k.GetProperty("sum").GetDouble(), sum);
        var row = k.GetProperty("row49_first5").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        for (var i = 0; i < 5; i++) Close(row[i], g[49] * g[i]);
    }

    private static void AssertBlurredFlow(FlowVideo flow, Dictionary<string, NpyArray> npz)
    {
        var (f, h, w) = (flow.Geometry.Frames, flow.Geometry.Height, flow.Geometry.Width);
        var frame = new float[h * w * 2];
        var stride = npz["stride8_all_frames"].ToFloats(); // [49, 60, 90, 2]
        var keyFrames = npz["key_frames"].ToInt64s();
        var worst = 0.0;
        for (var t = 0; t < f; t++)
        {
            flow.WriteBlurredFlow(t, frame);
            for (var y = 0; y < h / 8; y++)
            for (var x = 0; x < w / 8; x++)
            for (var c = 0; c < 2; c++)
            {
                var e = stride[((t * (h / 8) + y) * (w / 8) + x) * 2 + c];
                worst = Math.Max(worst, Math.Abs(e - frame[((y * 8) * w + x * 8) * 2 + c]));
            }
            if (!keyFrames.Contains(t)) continue;
            var crop = npz[$"frame{t}"];
            var origin = npz[$"frame{t}_origin_yx"].ToInt64s();
            var values = crop.ToFloats();
            var (ch, cw) = (crop.Shape[0], crop.Shape[1]);
            for (var y = 0; y < ch; y++)
            for (var x = 0; x < cw; x++)
            for (var c = 0; c < 2; c++)
            {
                var e = values[(y * cw + x) * 2 + c];
                worst = Math.Max(worst, Math.Abs(e - frame[(((int)origin[0] + y) * w + (int)origin[1] + x) * 2 + c]));
            }
        }
        Assert.True(worst <= 1e-4, $"blurred flow differs by {worst} px");
    }

    private static void Close(double expected, double actual) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-12 * Math.Abs(expected), $"{actual} vs {expected}");

    private static (int, int)[] Pairs(JsonElement list) =>
        list.EnumerateArray().Select(p => (p[0].GetInt32(), p[1].GetInt32())).ToArray();
}

/// <summary>RGB comparison with the golden tolerance: ≥ 99.99 % of values equal and none off by more than 1.</summary>
internal static class RgbAssert
{
    /// <summary>Compares our <c>[F, H, W, 3]</c> bytes with a golden <c>[F, 3, H, W]</c> array.</summary>
    public static void MatchesTchw(NpyArray golden, byte[] rgbFhw3, VideoGeometry g)
    {
        Assert.Equal(new[] { g.Frames, 3, g.Height, g.Width }, golden.Shape);
        var expected = golden.Data;
        long differing = 0, total = expected.LongLength;
        var maxDiff = 0;
        var plane = g.FramePixels;
        for (var t = 0; t < g.Frames; t++)
        for (var c = 0; c < 3; c++)
        for (var i = 0; i < plane; i++)
        {
            var e = expected[((long)t * 3 + c) * plane + i];
            var a = rgbFhw3[((long)t * plane + i) * 3 + c];
            if (e == a) continue;
            differing++;
            maxDiff = Math.Max(maxDiff, Math.Abs(e - a));
        }
        Assert.True(maxDiff <= 1, $"RGB differs by up to {maxDiff} levels ({differing} values differ)");
        Assert.True(differing <= total * 1e-4, $"{differing} of {total} RGB values differ (> 0.01 %)");
    }
}
