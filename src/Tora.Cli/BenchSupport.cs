using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Tora.Models.Onnx;

namespace Tora.Cli;

/// <summary>What a measurement adds to the product's session options (<see cref="Tora.Inference.Pipeline.OrtSessionFactory.CreateOptions"/>).</summary>
internal static class BenchSessionOptions
{
    /// <summary>ONNX Runtime profiling and the saved optimised graph, each when asked for.</summary>
    /// <param name="options">The product's options for the session.</param>
    /// <param name="profilePrefix">ORT profiling file prefix, or null.</param>
    /// <param name="optimizedModel">Path to save the optimised graph to (weights into <c>path.data</c>), or null.</param>
    public static void AddDiagnostics(SessionOptions options, string? profilePrefix, string? optimizedModel)
    {
        if (profilePrefix is not null)
        {
            // The prefix first: setting EnableProfiling hands ORT the prefix it holds at that moment.
            options.ProfileOutputPathPrefix = profilePrefix;
            options.EnableProfiling = true;
        }
        if (optimizedModel is not null)
        {
            options.OptimizedModelFilePath = optimizedModel;
            // Real-size graphs exceed protobuf's 2 GB: their weights must go to an external file.
            options.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", Path.GetFileName(optimizedModel) + ".data");
            options.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
        }
    }
}

/// <summary>Peak GPU memory in use, polled from <c>nvidia-smi</c> every 100 ms while a measurement runs.</summary>
internal sealed class GpuMemoryMonitor : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread? _thread;
    private long _peak = -1;

    private GpuMemoryMonitor(int deviceId, Action<string> log)
    {
        if (deviceId < 0) return;
        var first = Query(deviceId);
        if (first is null)
        {
            log("peak GPU memory: not measured (nvidia-smi did not answer)");
            return;
        }
        log($"GPU memory in use before loading: {first} MiB");
        _peak = first.Value;
        _thread = new Thread(() =>
        {
            while (!_stop.Token.WaitHandle.WaitOne(100))
                if (Query(deviceId) is long used && used > Interlocked.Read(ref _peak)) Interlocked.Exchange(ref _peak, used);
        }) { IsBackground = true, Name = "nvidia-smi poll" };
        _thread.Start();
    }

    /// <summary>Peak MiB in use on the device (every process), or null when not measured.</summary>
    public long? PeakMiB => _peak < 0 ? null : Interlocked.Read(ref _peak);

    /// <summary>Starts polling; <paramref name="deviceId"/> &lt; 0 measures nothing.</summary>
    public static GpuMemoryMonitor Start(int deviceId, Action<string> log) => new(deviceId, log);

    private static long? Query(int deviceId)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("nvidia-smi", ["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", deviceId.ToString(CultureInfo.InvariantCulture)])
                { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (p is null) return null;
            var text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 && long.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join();
        _stop.Dispose();
    }
}

/// <summary>Reads what ORT wrote: the profile (node placement, op-type totals) and the optimised graph (op counts).</summary>
internal static class ProfileSummary
{
    /// <summary>Prints the providers nodes ran on and the op types with the largest total time.</summary>
    public static void Print(string profileFile, Action<string> log)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(profileFile));
        var byOp = new Dictionary<string, (double Us, int Count)>();
        var byProvider = new Dictionary<string, int>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() != "Node" || !e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            var args = e.GetProperty("args");
            var op = args.GetProperty("op_name").GetString()!;
            var provider = args.TryGetProperty("provider", out var p) ? p.GetString()! : "?";
            var (us, n) = byOp.GetValueOrDefault(op);
            byOp[op] = (us + e.GetProperty("dur").GetDouble(), n + 1);
            byProvider[provider] = byProvider.GetValueOrDefault(provider) + 1;
        }
        log("profile: node runs by provider: " + string.Join(", ", byProvider.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")));
        double total = byOp.Values.Sum(v => v.Us);
        // On the CUDA provider these are host-side kernel times (ORT's release build has no CUDA event profiling):
        // they rank launches, not GPU work; the step median above is the GPU figure.
        log("profile: op types by recorded time (us, share, node runs):");
        foreach (var (op, (us, n)) in byOp.OrderByDescending(kv => kv.Value.Us).Take(12))
            log(FormattableString.Invariant($"  {op,-28} {us,14:F0} {100 * us / Math.Max(total, 1),6:F1}% {n,6}"));
    }

    /// <summary>Prints the op types of an optimised graph: fused attention shows as MultiHeadAttention with no Softmax.</summary>
    public static void PrintOpCounts(string modelPath, Action<string> log)
    {
        ModelProto model;
        using (var f = File.OpenRead(modelPath)) model = ModelProto.Parser.ParseFrom(f);
        var counts = model.Graph.Node.GroupBy(n => string.IsNullOrEmpty(n.Domain) ? n.OpType : $"{n.Domain}:{n.OpType}")
            .Select(g => (Op: g.Key, Count: g.Count())).OrderByDescending(x => x.Count).ThenBy(x => x.Op, StringComparer.Ordinal);
        log($"optimised graph {modelPath}: {model.Graph.Node.Count} nodes: " + string.Join(", ", counts.Select(c => $"{c.Op} {c.Count}")));
        int softmax = model.Graph.Node.Count(n => n.OpType == "Softmax");
        int mha = model.Graph.Node.Count(n => n.OpType is "MultiHeadAttention" or "Attention");
        log($"attention check: {mha} fused attention nodes, {softmax} Softmax nodes{(softmax == 0 && mha > 0 ? " (no attention matrix materialised by the graph)" : "")}");
    }
}
