using Tora.Motion.IO;
using Tora.TestSupport;

namespace Tora.Cli.Tests;

/// <summary>The tiny t2v checkpoint compiled once through <c>tora model build</c> for the <c>tora generate</c> tests.</summary>
public sealed class TinyPackage
{
    public TinyPackage()
    {
        Folder = Path.Combine(TestData.TempFolder("tora-cli-package"), "t2v");
        var r = CliRunner.RunAsync("model", "build", "--from", TestData.Path("fixtures/tiny-tora-t2v"), "--out", Folder).GetAwaiter().GetResult();
        if (r.ExitCode != 0) throw new InvalidOperationException($"tora model build failed: {r.Error}");
    }

    public string Folder { get; }
}

/// <summary><c>tora generate</c> end to end, in-process through the real command line, checked with ffprobe.</summary>
public sealed class GenerateCommandTests(TinyPackage package) : IClassFixture<TinyPackage>
{
    private static string Traj(string name) => TestData.Path($"tora-data/trajs/{name}.txt");

    [Fact]
    public async Task Generate_writes_the_mp4_the_frames_the_latents_and_a_replayable_noise_file()
    {
        var dir = TestData.TempFolder();
        string mp4 = Path.Combine(dir, "out.mp4"), frames = Path.Combine(dir, "frames.npy"), latents = Path.Combine(dir, "latents.npy"),
            noise = Path.Combine(dir, "noise.npz");
        var r = await CliRunner.RunAsync("generate", "--model", package.Folder, "--prompt", "A squirrel gathering nuts.", "--traj", Traj("coaster"),
            "--steps", "3", "--seed", "42", "--fps", "12", "--out", mp4, "--out-frames", frames, "--out-latents", latents, "--record-noise", noise);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Contains("execution provider: ", r.Output);
        Assert.Contains("step 3/3", r.Output);

        var probe = MediaProbe.Probe(mp4);
        Assert.Equal(("h264", "yuv420p", 96, 64, 49, "12/1"), (probe.Codec, probe.PixelFormat, probe.Width, probe.Height, probe.Frames, probe.FrameRate));
        var f = NpyArray.Read(frames);
        Assert.Equal("u1", f.DType);
        Assert.Equal([49, 64, 96, 3], f.Shape);
        var l = NpyArray.Read(latents);
        Assert.Equal("f4", l.DType);
        Assert.Equal([1, 13, 16, 8, 12], l.Shape);
        Assert.Equal(1 + 1 + 1 + 2 + 1, NpzFile.Read(noise).Count);

        // Replaying the recorded draws gives the same latents as the seed did.
        var replayed = Path.Combine(dir, "replayed.npy");
        r = await CliRunner.RunAsync("generate", "--model", package.Folder, "--prompt", "A squirrel gathering nuts.", "--traj", Traj("coaster"),
            "--steps", "3", "--noise", noise, "--out", Path.Combine(dir, "replayed.mp4"), "--out-latents", replayed);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal(l.Data, NpyArray.Read(replayed).Data);
    }

    [Fact]
    public async Task Generate_without_trajectories_and_in_low_memory_mode_writes_a_video()
    {
        var mp4 = Path.Combine(TestData.TempFolder(), "free.mp4");
        var r = await CliRunner.RunAsync("generate", "--model", package.Folder, "--prompt", "A fox.", "--steps", "2", "--guidance", "4", "--no-dynamic-cfg",
            "--low-memory", "--frames", "49", "--out", mp4);
        Assert.True(r.ExitCode == 0, r.Error);
        Assert.Equal(49, MediaProbe.Probe(mp4).Frames);
    }

    [Theory]
    [InlineData("--frames", "25", "generates 49 frames")]
    [InlineData("--traj", "missing.txt", "missing.txt: no such file")]
    [InlineData("--image", "missing.png", "missing.png: no such file")]
    [InlineData("--steps", "0", "--steps must be at least 1")]
    [InlineData("--fps", "0", "--fps must be 1..240")]
    [InlineData("--noise", "missing.npz", "missing.npz: no such file")]
    [InlineData("--vae-tiling", "40x64", "do not cover the 64x96 frame exactly (diffusers' tile arithmetic gives 66x100 pixels)")]
    [InlineData("--vae-tiling", "48", "--vae-tiling: the VAE tile size must be HxW")]
    public async Task Bad_inputs_are_one_line_errors_with_a_non_zero_exit_code(string option, string value, string message)
    {
        var dir = TestData.TempFolder();
        var path = option is "--traj" or "--image" or "--noise" ? Path.Combine(dir, value) : value;
        var r = await CliRunner.RunAsync("generate", "--model", package.Folder, "--prompt", "x", option, path, "--out", Path.Combine(dir, "x.mp4"));
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains(message, r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(dir, "x.mp4")));
    }

    [Fact]
    public async Task Vae_tiling_decodes_tile_by_tile_and_alone_asks_for_diffusers_default_tiles()
    {
        // Without trajectories the VAE only decodes, so tiling changes the frames and not the latents.
        var dir = TestData.TempFolder();
        string[] common = ["generate", "--model", package.Folder, "--prompt", "A fox.", "--steps", "1", "--seed", "7"];
        var whole = await CliRunner.RunAsync([.. common, "--out", Path.Combine(dir, "whole.mp4"), "--out-frames", Path.Combine(dir, "whole.npy"),
            "--out-latents", Path.Combine(dir, "whole-latents.npy")]);
        Assert.True(whole.ExitCode == 0, whole.Error);
        var tiled = await CliRunner.RunAsync([.. common, "--vae-tiling", "48x40", "--out", Path.Combine(dir, "tiled.mp4"), "--out-frames", Path.Combine(dir, "tiled.npy"),
            "--out-latents", Path.Combine(dir, "tiled-latents.npy")]);
        Assert.True(tiled.ExitCode == 0, tiled.Error);
        Assert.Contains("VAE tiling: 48x40 pixel tiles", tiled.Output);
        Assert.Equal(NpyArray.Read(Path.Combine(dir, "whole-latents.npy")).Data, NpyArray.Read(Path.Combine(dir, "tiled-latents.npy")).Data);
        Assert.NotEqual(NpyArray.Read(Path.Combine(dir, "whole.npy")).Data, NpyArray.Read(Path.Combine(dir, "tiled.npy")).Data);

        // Alone: half the frame, 32 x 48, which diffusers would turn into 70 x 110 frames here: refused before any work.
        var r = await CliRunner.RunAsync([.. common, "--vae-tiling", "--out", Path.Combine(dir, "half.mp4")]);
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("VAE tiles of 32x48 do not cover the 64x96 frame exactly", r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(dir, "half.mp4")));
    }

    [Fact]
    public async Task A_folder_that_is_not_a_package_and_a_first_frame_for_a_text_to_video_package_are_refused()
    {
        var dir = TestData.TempFolder();
        var r = await CliRunner.RunAsync("generate", "--model", dir, "--prompt", "x", "--out", Path.Combine(dir, "x.mp4"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("manifest.json is missing", r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));

        r = await CliRunner.RunAsync("generate", "--model", package.Folder, "--prompt", "x", "--steps", "1",
            "--image", TestData.Path("tora-data/images/fox.png"), "--out", Path.Combine(dir, "x.mp4"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("text-to-video model package", r.Error);

        var badNoise = Path.Combine(dir, "bad.npz");
        NpzFile.Write(badNoise, [new("noise_000", NpyArray.FromFloats(new float[3], 3))]);
        r = await CliRunner.RunAsync("generate", "--model", package.Folder, "--prompt", "x", "--steps", "1", "--noise", badNoise, "--out", Path.Combine(dir, "x.mp4"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("noise_000 has shape [3]", r.Error);
        Assert.Single(r.Error.Trim().Split('\n'));
    }
}
