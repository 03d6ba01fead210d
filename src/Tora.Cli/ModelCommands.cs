using System.CommandLine;
using System.Diagnostics;
using Tora.Models.Checkpoints;
using Tora.Models.Checkpoints.Sat;
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
        model.Subcommands.Add(ModelCheckCommand.Create());
        return model;
    }

    private static Command BuildCommand()
    {
        var from = new Option<string>("--from") { Description = "Source folder: a diffusers pipeline folder (transformer/, text_encoder/, vae/, tokenizer/, scheduler/) or the SAT ckpts/ folder (tora/t2v|i2v/, vae/3d-vae.pt, t5-v1_1-xxl/).", Required = true };
        var output = new Option<string>("--out") { Description = "Package folder to create (must not exist or be empty).", Required = true };
        var transformer = new Option<string?>("--transformer") { Description = "Transformer folder (config.json + weights) to use instead of <from>/transformer, e.g. an image-to-video transformer with the text-to-video pipeline's VAE, text encoder, tokenizer and scheduler." };
        var precision = new Option<string>("--precision") { Description = "Graph precision.", DefaultValueFactory = _ => "fp32" };
        precision.AcceptOnlyFromAmong("fp32", "fp16", "bf16");
        var layout = new Option<string?>("--layout") { Description = "Source layout (default: detected)." };
        layout.AcceptOnlyFromAmong("sat", "diffusers");
        var variant = new Option<string?>("--variant") { Description = "SAT: which model to build when tora/ holds both." };
        variant.AcceptOnlyFromAmong("t2v", "i2v");
        var satConfig = new Option<string?>("--sat-config") { Description = "SAT: the model YAML (sat/configs/tora/model/cogvideox_5b_tora*.yaml); default: the CogVideoX-5B Tora values." };
        var vaeGroups = new Option<int>("--vae-norm-groups") { Description = "SAT: VAE GroupNorm groups (hard-coded in SAT, not in any YAML).", DefaultValueFactory = _ => 32 };
        var only = new Option<string>("--only") { Description = "Compile only these parts: 'transformer' (with its trajectory encoder; for measurements such as bench/gpu) or 'all'.", DefaultValueFactory = _ => "all" };
        only.AcceptOnlyFromAmong("all", "transformer");
        var command = new Command("build", "Build a model package (manifest.json, ONNX graphs, tokenizer) from a diffusers pipeline folder or a SAT ckpts/ folder.")
            { from, output, transformer, precision, layout, variant, satConfig, vaeGroups, only };
        command.SetAction(parse =>
        {
            var p = parse.GetValue(precision) switch { "fp16" => Precision.Fp16, "bf16" => Precision.Bf16, _ => Precision.Fp32 };
            var clock = Stopwatch.StartNew();
            try
            {
                var folder = parse.GetRequiredValue(from);
                var sat = new SatImportOptions { Variant = parse.GetValue(variant), ModelConfig = parse.GetValue(satConfig), VaeNormGroups = parse.GetValue(vaeGroups) };
                var parts = parse.GetValue(only) == "transformer" ? PackageParts.Transformer : PackageParts.All;
                using var source = OpenSource(folder, parse.GetValue(layout), sat, parse.GetValue(transformer), parts);
                var manifest = PackageBuilder.Build(source, parse.GetRequiredValue(output), p, Console.WriteLine, parts);
                Console.WriteLine($"package {parse.GetRequiredValue(output)} ({manifest.ModelType}, {manifest.Precision}, from {manifest.Source.Layout}) built in {clock.Elapsed.TotalSeconds:F1} s; peak RSS {Process.GetCurrentProcess().PeakWorkingSet64 / (1 << 20)} MiB");
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
    /// The source in <paramref name="layout"/>, or the detected one (SAT ckpts/ or diffusers folder); disposable either
    /// way. <paramref name="transformer"/> (diffusers only) replaces the folder's transformer/: with it the folder only
    /// needs the other components. <paramref name="parts"/>: a diffusers folder only needs the components of these parts.
    /// </summary>
    internal static DisposableSource OpenSource(string folder, string? layout, SatImportOptions sat, string? transformer = null, PackageParts parts = PackageParts.All)
    {
        layout ??= SatPipelineSource.Detect(folder) ? "sat"
            : DiffusersPipelineSource.Detect(folder) || transformer is not null ? "diffusers"
            : throw new CheckpointException($"{folder} is neither a Tora diffusers pipeline folder (transformer/config.json is missing) nor a SAT ckpts folder (no tora/t2v|i2v/{SatPipelineSource.EngineFile})");
        if (layout == "sat")
        {
            // The SAT ckpts/ folder holds both models; --variant picks one.
            if (transformer is not null) throw new ArgumentException("--transformer applies to a diffusers pipeline folder; with a SAT ckpts folder use --variant t2v|i2v");
            var s = SatPipelineSource.Open(folder, sat);
            return new DisposableSource(s, s);
        }
        return new DisposableSource(DiffusersPipelineSource.Open(folder, transformer, parts), null);
    }

    /// <summary>A source and what to dispose with it.</summary>
    internal sealed record DisposableSource(PipelineSource Source, IDisposable? Owner) : IDisposable
    {
        public static implicit operator PipelineSource(DisposableSource d) => d.Source;

        public void Dispose() => Owner?.Dispose();
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
        var layout = new Option<string>("--layout") { Description = "diffusers (a pipeline folder) or sat (a SAT ckpts/ folder: tora/t2v, vae/3d-vae.pt, t5-v1_1-xxl/config.json).", DefaultValueFactory = _ => "diffusers" };
        layout.AcceptOnlyFromAmong("diffusers", "sat");
        var only = new Option<string>("--only") { Description = "'transformer': write only transformer/ and the scheduler config (enough for 'model build --only transformer'; diffusers layout); 'vae': write only vae/ (for 'tora bench vae'); 'all' (default): every component.", DefaultValueFactory = _ => "all" };
        only.AcceptOnlyFromAmong("all", "transformer", "vae");
        var layers = new Option<int?>("--layers") { Description = "Transformer blocks to write (real widths, the first N of the configuration's blocks, with their fusers; diffusers layout), e.g. 2 for a real-geometry step on the CPU." };
        var command = new Command("random", "Write a random checkpoint with exactly the official tensor names and shapes.") { config, output, seed, layout, only, layers };
        command.SetAction(parse =>
        {
            var folder = parse.GetRequiredValue(output);
            if (Directory.Exists(folder) && Directory.EnumerateFileSystemEntries(folder).Any())
                return Fail($"{folder} is not empty; give a new folder");
            var which = parse.GetRequiredValue(config) == "tiny" ? RandomConfig.Tiny : RandomConfig.CogVideoX5B;
            var blocks = parse.GetValue(layers);
            if (blocks is int n && (n < 1 || n > RandomCheckpoint.TransformerConfig(which).NumLayers))
                return Fail($"--layers must be 1..{RandomCheckpoint.TransformerConfig(which).NumLayers}, got {n}");
            var clock = Stopwatch.StartNew();
            try
            {
                bool transformerOnly = parse.GetValue(only) == "transformer", vaeOnly = parse.GetValue(only) == "vae";
                if (parse.GetValue(layout) == "sat")
                {
                    if (transformerOnly || vaeOnly || blocks is not null) return Fail("--only transformer|vae and --layers write a diffusers folder; leave out --layout sat");
                    RandomSatCheckpoint.Write(which, folder, parse.GetValue(seed));
                }
                else if (vaeOnly) RandomCheckpoint.WriteVae(which, folder, parse.GetValue(seed));
                else RandomCheckpoint.Write(which, folder, parse.GetValue(seed), transformerOnly, blocks);
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
