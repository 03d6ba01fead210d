using Tora.Cli;
using Tora.Inference.Package;
using Tora.TestSupport;

namespace Tora.Models.Tests;

/// <summary><c>tora model random</c> and <c>tora model build</c> end to end, through the real command line.</summary>
public sealed class ModelCommandsTests
{
    [Fact]
    public async Task Random_tiny_checkpoint_compiles_into_a_package()
    {
        var root = TestData.TempFolder();
        var random = Path.Combine(root, "random");
        var package = Path.Combine(root, "package");
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--out", random, "--seed", "3"]));
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "build", "--from", random, "--out", package, "--precision", "fp16"]));
        var manifest = ModelManifest.Read(package);
        Assert.Equal("fp16", manifest.Precision);
        Assert.Equal("tokenizer", manifest.TokenizerFolder); // the tiny SentencePiece model travels with the tiny config
        Assert.True(File.Exists(Path.Combine(package, "tokenizer", "spiece.model")));
        Assert.All(manifest.Components.Values, c => Assert.True(File.Exists(Path.Combine(package, c.File))));
    }

    [Fact]
    public async Task The_demo_package_from_a_tiny_random_checkpoint_generates_a_video()
    {
        // run.sh's path when no model is configured: random tiny checkpoint -> package -> real pipeline -> MP4.
        var root = TestData.TempFolder();
        var random = Path.Combine(root, "random");
        var package = Path.Combine(root, "package");
        var video = Path.Combine(root, "demo.mp4");
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--out", random]));
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "build", "--from", random, "--out", package]));
        Assert.Equal(0, await ToraCommand.RunAsync(["generate", "--model", package, "--prompt", "A squirrel gathering nuts.",
            "--traj", TestData.Path("tora-data/trajs/coaster.txt"), "--steps", "2", "--out", video]));
        Assert.True(new FileInfo(video).Length > 0);
    }

    [Fact]
    public async Task An_image_to_video_package_builds_from_the_i2v_transformer_with_the_t2v_components()
    {
        var package = Path.Combine(TestData.TempFolder(), "i2v");
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "build", "--from", TestData.Path("fixtures/tiny-tora-t2v"),
            "--transformer", TestData.Path("fixtures/tiny-tora-i2v/transformer"), "--out", package]));
        var manifest = ModelManifest.Read(package);
        Assert.Equal("tora-i2v", manifest.ModelType);
        Assert.NotNull(manifest.Vae);
        Assert.Equal(5, manifest.Components.Count);
    }

    [Fact]
    public async Task Random_checkpoints_are_reproducible_from_the_seed()
    {
        var root = TestData.TempFolder();
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--out", Path.Combine(root, "a"), "--seed", "5"]));
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--out", Path.Combine(root, "b"), "--seed", "5"]));
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--out", Path.Combine(root, "c"), "--seed", "6"]));
        var file = "transformer/diffusion_pytorch_model.safetensors";
        Assert.Equal(File.ReadAllBytes(Path.Combine(root, "a", file)), File.ReadAllBytes(Path.Combine(root, "b", file)));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(root, "a", file)), File.ReadAllBytes(Path.Combine(root, "c", file)));
    }

    [Fact]
    public async Task Building_from_a_folder_that_is_not_a_pipeline_fails_with_exit_code_2()
    {
        var root = TestData.TempFolder();
        var error = new StringWriter();
        var previous = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.Equal(2, await ToraCommand.RunAsync(["model", "build", "--from", root, "--out", Path.Combine(root, "p")]));
        }
        finally
        {
            Console.SetError(previous);
        }
        Assert.Contains("transformer/config.json is missing", error.ToString());
        Assert.Single(error.ToString().Trim().Split('\n'));
    }
}
