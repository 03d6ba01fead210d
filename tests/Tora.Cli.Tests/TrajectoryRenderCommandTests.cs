using System.Text.Json;
using Tora.Motion.IO;
using Tora.TestSupport;

namespace Tora.Cli.Tests;

/// <summary><c>tora trajectory render</c> end to end: outputs checked against the golden data and ffprobe.</summary>
public sealed class TrajectoryRenderCommandTests
{
    private static string Traj(string name) => TestData.Path($"tora-data/trajs/{name}.txt");

    private static JsonElement Golden() =>
        JsonDocument.Parse(File.ReadAllText(TestData.Path("golden/trajectories/trajectories.json"))).RootElement;

    [Fact]
    public async Task Coaster_renders_the_original_flow_video_points_and_mp4()
    {
        var dir = TestData.TempFolder();
        var (npy, points, mp4) = (Path.Combine(dir, "flow.npy"), Path.Combine(dir, "points.json"), Path.Combine(dir, "flow.mp4"));
        var r = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("coaster"), "--out-npy", npy, "--out-points", points, "--out-mp4", mp4);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal("", r.Error);

        var array = NpyArray.Read(npy);
        Assert.Equal("u1", array.DType);
        Assert.Equal([49, 480, 720, 3], array.Shape);
        var golden = NpzFile.Read(TestData.Path("golden/trajectories/rgb_coaster.npz"))["rgb_directconv"]; // [49, 3, 480, 720]
        long differing = 0;
        var maxDiff = 0;
        const int plane = 480 * 720;
        for (var t = 0; t < 49; t++)
        for (var c = 0; c < 3; c++)
        for (var i = 0; i < plane; i++)
        {
            var d = Math.Abs(golden.Data[((long)t * 3 + c) * plane + i] - array.Data[((long)t * plane + i) * 3 + c]);
            if (d == 0) continue;
            differing++;
            maxDiff = Math.Max(maxDiff, d);
        }
        Assert.True(maxDiff <= 1 && differing <= golden.Data.LongLength / 10_000, $"{differing} values differ, by up to {maxDiff}");

        using var json = JsonDocument.Parse(File.ReadAllText(points));
        var expected = Golden().GetProperty("trajectories").GetProperty("coaster").GetProperty("points_video").GetRawText();
        Assert.Equal(Compact(expected), Compact(json.RootElement.GetProperty("points").GetRawText()));

        var probe = MediaProbe.Probe(mp4);
        Assert.Equal(("h264", "yuv420p", 720, 480, 49, "8/1"), (probe.Codec, probe.PixelFormat, probe.Width, probe.Height, probe.Frames, probe.FrameRate));
    }

    [Fact]
    public async Task Several_trajectories_from_txt_and_json_share_one_video()
    {
        var dir = TestData.TempFolder();
        var jsonTraj = Path.Combine(dir, "wave.json");
        var wave = File.ReadAllLines(Traj("wave")).Where(l => l.Trim().Length > 0).Select(l => l.Split(',').Select(s => int.Parse(s.Trim())).ToArray());
        await File.WriteAllTextAsync(jsonTraj, JsonSerializer.Serialize(new { trajectories = new[] { new { points = wave, space = "canvas256" } } }));
        var points = Path.Combine(dir, "points.json");
        var npy = Path.Combine(dir, "small.npy");
        var r = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("infinity"), "--traj", jsonTraj, "--out-points", points);
        Assert.True(r.ExitCode == 0, r.Error);
        using var json = JsonDocument.Parse(File.ReadAllText(points));
        var expected = Golden().GetProperty("multi").GetProperty("infinity+wave").GetProperty("points_video").GetRawText();
        Assert.Equal(Compact(expected), Compact(json.RootElement.GetProperty("points").GetRawText()));
        Assert.Contains("2 trajectories", r.Output);

        // Several files after one --traj, like the original's nargs="+" --point_path.
        var points2 = Path.Combine(dir, "points2.json");
        var r2 = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("infinity"), jsonTraj, "--out-points", points2);
        Assert.True(r2.ExitCode == 0, r2.Error);
        Assert.Equal(File.ReadAllText(points), File.ReadAllText(points2));

        var small = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("infinity"), "--traj", jsonTraj,
            "--frames", "9", "--width", "96", "--height", "64", "--out-npy", npy);
        Assert.True(small.ExitCode == 0, small.Error);
        Assert.Equal([9, 64, 96, 3], NpyArray.Read(npy).Shape);
    }

    [Fact]
    public async Task Overlay_on_an_image_writes_an_mp4_of_the_video_size()
    {
        var dir = TestData.TempFolder();
        var mp4 = Path.Combine(dir, "overlay.mp4");
        var r = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("spiral"), "--overlay-on", TestData.Path("tora-data/images/fox.png"),
            "--out-mp4", mp4, "--frames", "13", "--width", "160", "--height", "96", "--fps", "4");
        Assert.True(r.ExitCode == 0, r.Error);
        var probe = MediaProbe.Probe(mp4);
        Assert.Equal((160, 96, 13, "4/1"), (probe.Width, probe.Height, probe.Frames, probe.FrameRate));

        var blank = Path.Combine(dir, "blank.mp4");
        var b = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("spiral"), "--overlay-on", "blank", "--out-mp4", blank, "--frames", "5", "--width", "64", "--height", "48");
        Assert.True(b.ExitCode == 0, b.Error);
        Assert.Equal(5, MediaProbe.Probe(blank).Frames);
    }

    [Theory]
    [InlineData("1,2\n3;4\n", ".txt", "/trajectories/0/points/1")]
    [InlineData("10,10\n300,20\n", ".txt", "point_outside_canvas")]
    [InlineData("{\"trajectories\": [{\"points\": [[0.5, 0.5], [2, 0.5]]}]}", ".json", "/trajectories/0/points/1")]
    [InlineData("{\"trajectories\": [{\"points\": []}]}", ".json", "empty_trajectory")]
    [InlineData("{not json", ".json", "invalid_syntax")]
    [InlineData("1,2\n", ".csv", "expected .txt or .json")]
    public async Task Bad_trajectory_files_fail_with_one_line(string content, string extension, string expected)
    {
        var file = Path.Combine(TestData.TempFolder(), "bad" + extension);
        await File.WriteAllTextAsync(file, content);
        var npy = Path.Combine(Path.GetDirectoryName(file)!, "out.npy");
        var r = await CliRunner.RunAsync("trajectory", "render", "--traj", file, "--out-npy", npy);
        Assert.NotEqual(0, r.ExitCode);
        var line = Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("tora: ", line);
        Assert.Contains(expected, line);
        Assert.False(File.Exists(npy));
    }

    [Fact]
    public async Task Missing_files_bad_sizes_and_bad_images_fail_cleanly()
    {
        var missing = await CliRunner.RunAsync("trajectory", "render", "--traj", "/no/such/file.txt");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("no such file", missing.Error);

        var frames = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("coaster"), "--frames", "1");
        Assert.NotEqual(0, frames.ExitCode);
        Assert.Contains("--frames", frames.Error);

        var huge = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("coaster"), "--frames", "1000", "--width", "8000", "--height", "8000");
        Assert.NotEqual(0, huge.ExitCode);
        Assert.Contains("too large", huge.Error);

        var notImage = Path.Combine(TestData.TempFolder(), "image.png");
        await File.WriteAllTextAsync(notImage, "not a png");
        var image = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("coaster"), "--overlay-on", notImage, "--out-mp4", notImage + ".mp4");
        Assert.NotEqual(0, image.ExitCode);
        Assert.Single(image.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var noMp4 = await CliRunner.RunAsync("trajectory", "render", "--traj", Traj("coaster"), "--overlay-on", "blank");
        Assert.NotEqual(0, noMp4.ExitCode);
        Assert.Contains("--out-mp4", noMp4.Error);

        var noTraj = await CliRunner.RunAsync("trajectory", "render");
        Assert.NotEqual(0, noTraj.ExitCode);
    }

    private static string Compact(string json) => JsonSerializer.Serialize(JsonDocument.Parse(json).RootElement);
}
