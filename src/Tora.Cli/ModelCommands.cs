using System.CommandLine;
using System.Diagnostics;
using Tora.Models.Checkpoints;
using Tora.Models.Package;

namespace Tora.Cli;

/// <summary><c>tora model …</c>: compile checkpoints into model packages, write random checkpoints.</summary>
public static class ModelCommands
{
    /// <summary>The <c>model</c> command group.</summary>
    public static Command Create()
    {
        var model = new Command("model", "Compile official Tora checkpoints into ONNX model packages.");
        model.Subcommands.Add(BuildCommand());
        model.Subcommands.Add(RandomCommand());
        return model;
    }

    private static Command BuildCommand()
    {
        var from = new Option<string>("--from") { Description = "Diffusers pipeline folder (transformer/, text_encoder/, vae/, tokenizer/, scheduler/).", Required = true };
        var output = new Option<string>("--out") { Description = "Package folder to create (must not exist or be empty).", Required = true };
        var precision = new Option<string>("--precision") { Description = "Graph precision.", DefaultValueFactory = _ => "fp32" };
        precision.AcceptOnlyFromAmong("fp32", "fp16", "bf16");
        var only = new Option<string>("--only") { Description = "Compile only these parts: 'transformer' (with its trajectory encoder; for measurements such as bench/gpu) or 'all'.", DefaultValueFactory = _ => "all" };
        only.AcceptOnlyFromAmong("all", "transformer");
        var command = new Command("build", "Build a model package (manifest.json, ONNX graphs, tokenizer) from a diffusers pipeline folder.") { from, output, precision, only };
        command.SetAction(parse =>
        {
            var p = parse.GetValue(precision) switch { "fp16" => Precision.Fp16, "bf16" => Precision.Bf16, _ => Precision.Fp32 };
            var clock = Stopwatch.StartNew();
            try
            {
                var manifest = PackageBuilder.Build(parse.GetRequiredValue(from), parse.GetRequiredValue(output), p, Console.WriteLine,
                    parse.GetValue(only) == "transformer" ? PackageParts.Transformer : PackageParts.All);
                Console.WriteLine($"package {parse.GetRequiredValue(output)} ({manifest.ModelType}, {manifest.Precision}) built in {clock.Elapsed.TotalSeconds:F1} s; peak RSS {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MiB");
                return 0;
            }
            catch (Exception e) when (e is CheckpointException or IOException or InvalidDataException or ArgumentException or UnauthorizedAccessException)
            {
                return Fail(e.Message);
            }
        });
        return command;
    }

    /// <summary>
    /// Prints a user error as one line and returns exit code 2 (as <see cref="CliException"/>; reported here
    /// because System.CommandLine's default exception handler would print a stack trace first).
    /// </summary>
    private static int Fail(string message)
    {
        Console.Error.WriteLine($"tora: {message}");
        return 2;
    }

    private static Command RandomCommand()
    {
        var config = new Option<string>("--config") { Description = "Sizes: tiny (the test fixtures) or cogvideox-5b (the real model, ~22 GB in bf16).", Required = true };
        config.AcceptOnlyFromAmong("tiny", "cogvideox-5b");
        var output = new Option<string>("--out") { Description = "Folder to write the pipeline into (must not exist or be empty).", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the random values.", DefaultValueFactory = _ => 0UL };
        var only = new Option<string>("--only") { Description = "'transformer': write only transformer/ and the scheduler config (enough for 'model build --only transformer'); 'all' (default): every component.", DefaultValueFactory = _ => "all" };
        only.AcceptOnlyFromAmong("all", "transformer");
        var command = new Command("random", "Write a random checkpoint with exactly the official tensor names and shapes.") { config, output, seed, only };
        command.SetAction(parse =>
        {
            var folder = parse.GetRequiredValue(output);
            if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
                return Fail($"{folder} is not empty; give a new folder");
            var which = parse.GetRequiredValue(config) == "tiny" ? RandomConfig.Tiny : RandomConfig.CogVideoX5B;
            var clock = Stopwatch.StartNew();
            try
            {
                RandomCheckpoint.Write(which, folder, parse.GetValue(seed), parse.GetValue(only) == "transformer");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Fail(e.Message);
            }
            Console.WriteLine($"random {parse.GetRequiredValue(config)} checkpoint written to {folder} in {clock.Elapsed.TotalSeconds:F1} s");
            return 0;
        });
        return command;
    }
}
