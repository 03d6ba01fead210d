using System.CommandLine;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tora.Inference;
using Tora.Inference.Pipeline;

namespace Tora.Cli;

/// <summary>
/// <c>tora model check</c>: creates every session of a package on the CUDA provider exactly as the pipeline does
/// (the start-up Conv probe first, then each graph with the CPU fallback disabled), so a node without a CUDA
/// kernel, or a CUDA/cuDNN installation that cannot compute, is found before a job runs (docs/gpu.md).
/// </summary>
public static class ModelCheckCommand
{
    /// <summary>Exit code when CUDA is usable but at least one graph cannot be placed on it.</summary>
    public const int PlacementFailed = 1;

    /// <summary>Exit code when CUDA (or cuDNN) is not usable at all, or the arguments are wrong.</summary>
    public const int CudaUnusable = 2;

    /// <summary>The <c>check</c> subcommand of <c>model</c>.</summary>
    public static Command Create()
    {
        var package = new Option<string?>("--package") { Description = "Model package folder: every graph of its manifest is checked." };
        var graphs = new Option<string[]>("--graph") { Description = "Also check this ONNX graph file (repeatable).", AllowMultipleArgumentsPerToken = false };
        var device = new Option<int>("--device") { Description = "CUDA device index.", DefaultValueFactory = _ => 0 };
        var placementOnly = new Option<bool>("--placement-only") { Description = "Skip the start-up Conv on the device: only where nodes go is checked (CUDA libraries that cannot compute, e.g. CI stand-ins)." };
        var verbose = new Option<bool>("--verbose") { Description = "ONNX Runtime's verbose log on stderr (where every node was placed)." };
        var command = new Command("check", "Create every session of a package on CUDA with the CPU fallback disabled; fails on any node without a CUDA kernel.")
            { package, graphs, device, placementOnly, verbose };
        command.SetAction(parse =>
        {
            var folder = parse.GetValue(package);
            var files = parse.GetValue(graphs) ?? [];
            if (folder is null && files.Length == 0) return Fail("give --package and/or --graph");
            var targets = new List<(string Name, string Path)>();
            try
            {
                if (folder is not null)
                {
                    var opened = ModelPackage.Open(folder);
                    foreach (var component in opened.Manifest.Components.Keys.Order(StringComparer.Ordinal))
                        targets.Add((component, opened.GraphPath(component)));
                }
            }
            catch (GenerationException e)
            {
                return Fail(e.Message);
            }
            foreach (var file in files)
            {
                if (!File.Exists(file)) return Fail($"{file}: no such file");
                targets.Add((file, file));
            }

            OrtSessionFactory factory;
            try
            {
                factory = new OrtSessionFactory(new ExecutionOptions { Provider = ExecutionProviderChoice.Cuda, DeviceId = parse.GetValue(device), SkipDeviceProbe = parse.GetValue(placementOnly), Log = Console.WriteLine });
            }
            catch (GenerationException e)
            {
                return Fail(e.Message);
            }
            if (parse.GetValue(verbose)) OrtEnv.Instance().EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE;
            int failed = 0;
            foreach (var (name, path) in targets)
            {
                try
                {
                    using var session = factory.Create(path);
                    Console.WriteLine($"OK {name}");
                }
                catch (GenerationException e)
                {
                    failed++;
                    Console.WriteLine($"FAIL {name}: {e.Message}");
                }
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{targets.Count - failed} of {targets.Count} graphs placed on {OrtSessionFactory.CudaProvider} with the CPU fallback disabled"));
            return failed == 0 ? 0 : PlacementFailed;
        });
        return command;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"tora: {message}");
        return CudaUnusable;
    }
}
