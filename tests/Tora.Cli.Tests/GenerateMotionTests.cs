using Tora.Motion.IO;
using Tora.TestSupport;

namespace Tora.Cli.Tests;

/// <summary><c>tora generate --flow</c> and the motion controls, end to end through the real command line.</summary>
public sealed class GenerateMotionTests(TinyPackage package) : IClassFixture<TinyPackage>
{
    private static string Coaster => TestData.Path("tora-data/trajs/coaster.txt");

    private async Task<float[]> GenerateAsync(string dir, string name, params string[] extra)
    {
        var latents = Path.Combine(dir, name + "-latents.npy");
        string[] args = ["generate", "--model", package.Folder, "--prompt", "A squirrel gathering nuts.", "--steps", "2", "--seed", "42",
            "--out", Path.Combine(dir, name + ".mp4"), "--out-latents", latents, .. extra];
        var r = await CliRunner.RunAsync(args);
        Assert.True(r.ExitCode == 0, r.Error);
        return NpyArray.Read(latents).ToFloats();
    }

    private static async Task RenderAsync(string dir, params string[] outputs)
    {
        string[] args = ["trajectory", "render", "--traj", Coaster, "--width", "96", "--height", "64", .. outputs];
        var r = await CliRunner.RunAsync(args);
        Assert.True(r.ExitCode == 0, r.Error);
    }

    [Fact]
    public async Task A_flow_npy_guides_exactly_as_the_rendered_trajectory_and_an_mp4_flow_video_is_accepted()
    {
        var dir = TestData.TempFolder();
        string npy = Path.Combine(dir, "flow.npy"), mp4 = Path.Combine(dir, "flow.mp4");
        await RenderAsync(dir, "--out-npy", npy, "--out-mp4", mp4, "--crf", "0");

        var fromTrajectory = await GenerateAsync(dir, "traj", "--traj", Coaster);
        var fromFlow = await GenerateAsync(dir, "flow", "--flow", npy);
        Assert.Equal(fromTrajectory, fromFlow);
        // --traj beside --flow only draws the overlay: the motion input is still the flow video.
        var overlaid = await GenerateAsync(dir, "overlay", "--flow", npy, "--traj", TestData.Path("tora-data/trajs/sawtooth.txt"));
        Assert.Equal(fromFlow, overlaid);

        var fromMp4 = await GenerateAsync(dir, "flowmp4", "--flow", mp4);
        var unguided = await GenerateAsync(dir, "none");
        Assert.NotEqual(unguided, fromMp4);
        Assert.Equal(49, MediaProbe.Probe(Path.Combine(dir, "flowmp4.mp4")).Frames);
    }

    [Fact]
    public async Task Motion_controls_change_the_result_and_the_defaults_do_not()
    {
        var dir = TestData.TempFolder();
        var plain = await GenerateAsync(dir, "plain", "--traj", Coaster);
        var defaults = await GenerateAsync(dir, "defaults", "--traj", Coaster, "--motion-strength", "1", "--motion-start", "0", "--motion-end", "1");
        Assert.Equal(plain, defaults);
        var controlled = await GenerateAsync(dir, "controlled", "--traj", Coaster, "--motion-strength", "0.6", "--motion-end", "0.2");
        Assert.NotEqual(plain, controlled);
    }

    [Theory]
    [InlineData("wrong-shape", "has shape [48, 64, 96, 3]; this model needs [49, 64, 96, 3]")]
    [InlineData("wrong-dtype", "must be uint8, not f4")]
    [InlineData("wrong-type", "unknown flow video type '.txt'")]
    [InlineData("missing", "flow.npy: no such file")]
    [InlineData("wrong-size-mp4", "the flow video is 48x32; this model needs 96x64")]
    [InlineData("not-a-video", "not a video file ffmpeg can read")]
    [InlineData("strength", "--motion-strength must be a number from 0 to 10")]
    [InlineData("window", "--motion-end must not be less than start")]
    public async Task Bad_flow_videos_and_motion_controls_are_one_line_errors(string kind, string message)
    {
        var dir = TestData.TempFolder();
        var flow = Path.Combine(dir, "flow.npy");
        string[] extra = ["--flow", flow];
        switch (kind)
        {
            case "wrong-shape": NpyArray.FromBytes(new byte[48 * 64 * 96 * 3], 48, 64, 96, 3).Write(flow); break;
            case "wrong-dtype": NpyArray.FromFloats(new float[49 * 64 * 96 * 3], 49, 64, 96, 3).Write(flow); break;
            case "wrong-type": flow = Path.Combine(dir, "flow.txt"); File.WriteAllText(flow, "1,2"); extra = ["--flow", flow]; break;
            case "missing": break;
            case "wrong-size-mp4":
                flow = Path.Combine(dir, "small.mp4");
                var r0 = await CliRunner.RunAsync("trajectory", "render", "--traj", Coaster, "--width", "48", "--height", "32", "--out-mp4", flow);
                Assert.True(r0.ExitCode == 0, r0.Error);
                extra = ["--flow", flow];
                break;
            case "not-a-video": flow = Path.Combine(dir, "flow.mp4"); File.WriteAllText(flow, "not a video"); extra = ["--flow", flow]; break;
            case "strength": extra = ["--motion-strength", "11"]; break;
            case "window": extra = ["--motion-start", "0.5", "--motion-end", "0.2"]; break;
        }
        string[] args = ["generate", "--model", package.Folder, "--prompt", "x", "--steps", "1", "--out", Path.Combine(dir, "x.mp4"), .. extra];
        var r = await CliRunner.RunAsync(args);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(message, r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(dir, "x.mp4")));
    }
}
