using Tora.Cli;
using Tora.Inference.Package;
using Tora.Models.Checkpoints;
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
    public async Task Random_layers_writes_the_first_blocks_with_their_fusers_and_only_vae_writes_the_vae_alone()
    {
        var root = TestData.TempFolder();
        string one = Path.Combine(root, "one"), all = Path.Combine(root, "all"), vae = Path.Combine(root, "vae");
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--only", "transformer", "--layers", "1", "--out", one]));
        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--only", "transformer", "--out", all]));
        using (var a = Checkpoint.Open(Path.Combine(one, "transformer")))
        using (var b = Checkpoint.Open(Path.Combine(all, "transformer")))
        {
            // A subset of the full checkpoint's names (the Trajectory Extractor is sized for the blocks kept): block 0 and
            // its fuser, not block 1 and its fuser.
            Assert.Subset(b.Names.ToHashSet(), a.Names.ToHashSet());
            Assert.Contains(a.Names, n => n.StartsWith("transformer_blocks.0.", StringComparison.Ordinal));
            Assert.Contains(a.Names, n => n.StartsWith("fuser.0.", StringComparison.Ordinal));
            Assert.DoesNotContain(a.Names, n => n.StartsWith("transformer_blocks.1.", StringComparison.Ordinal) || n.StartsWith("fuser.1.", StringComparison.Ordinal));
            Assert.Contains(b.Names, n => n.StartsWith("fuser.1.", StringComparison.Ordinal));
        }
        Assert.Contains("\"num_layers\": 1", File.ReadAllText(Path.Combine(one, "transformer", "config.json")));

        Assert.Equal(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--only", "vae", "--out", vae]));
        Assert.Equal(["vae"], Directory.GetDirectories(vae).Select(Path.GetFileName));
        Assert.True(File.Exists(Path.Combine(vae, "vae", "diffusion_pytorch_model.safetensors")));
        Assert.NotEqual(0, await ToraCommand.RunAsync(["model", "random", "--config", "tiny", "--layers", "3", "--out", Path.Combine(root, "x")]));
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
