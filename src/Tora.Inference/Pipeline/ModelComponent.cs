using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace Tora.Inference.Pipeline;

/// <summary>
/// One graph of a model package with its one <see cref="InferenceSession"/>: created on first use, reused by every
/// job of the process, and unloaded only when the pipeline's <see cref="LowMemoryPolicy"/> says its stage is over
/// (or when the pipeline is disposed). The text encoder, trajectory encoder, transformer and the two VAE halves each
/// derive from it with the computation that uses the session. Not thread-safe: one job at a time.
/// </summary>
public abstract class ModelComponent : IDisposable
{
    private readonly ModelPackage _package;
    private readonly OrtSessionFactory _factory;
    private readonly Action<string> _log;
    private InferenceSession? _session;
    private bool _disposed;

    /// <param name="graph">The component's name in the package manifest (<see cref="ModelPackage.TextEncoder"/>…).</param>
    /// <param name="package">The package holding the graph.</param>
    /// <param name="factory">Creates the session on the process's execution provider.</param>
    /// <param name="log">Receives one line per session created.</param>
    /// <param name="cpuArena">Whether the session's CPU tensors come from ONNX Runtime's arena (<see cref="OrtSessionFactory.Create"/>).</param>
    protected ModelComponent(string graph, ModelPackage package, OrtSessionFactory factory, Action<string> log, bool cpuArena = true)
    {
        Graph = graph;
        UsesCpuArena = cpuArena;
        _package = package;
        _factory = factory;
        _log = log;
    }

    /// <summary>The package holding the graph (its geometry and configuration).</summary>
    protected ModelPackage Package => _package;

    /// <summary>Where outputs stay between graphs (GPU memory with CUDA; null on the CPU).</summary>
    protected OrtMemoryInfo? DeviceMemory => _factory.DeviceMemory;

    /// <summary>The component's graph name in the package.</summary>
    public string Graph { get; }

    /// <summary>Whether the session's CPU tensors come from ONNX Runtime's CPU memory arena (off for the VAE, docs/model.md §6.3).</summary>
    public bool UsesCpuArena { get; }

    /// <summary>Whether the session is loaded now.</summary>
    public bool IsLoaded => _session is not null;

    /// <summary>The session, created when it is not loaded.</summary>
    protected InferenceSession Session
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_session is not null) return _session;
            var clock = Stopwatch.StartNew();
            _session = _factory.Create(_package.GraphPath(Graph), UsesCpuArena);
            _log($"{Graph}: session created in {clock.Elapsed.TotalMilliseconds:F0} ms{(UsesCpuArena ? "" : " (CPU arena off)")}");
            return _session;
        }
    }

    /// <summary>Disposes the session (the next use creates it again).</summary>
    public void Unload()
    {
        _session?.Dispose();
        _session = null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        Unload();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// Low-memory mode (<see cref="ExecutionOptions.LowMemory"/>) in one place: after each phase of a job the
/// components that no later phase of the job uses are unloaded, so at most one stage's graphs are resident; off,
/// every session stays loaded for the next job (speed).
/// </summary>
/// <param name="enabled">Whether sessions are unloaded between phases.</param>
/// <param name="lastUse">For each phase, the components whose last use it is.</param>
public sealed class LowMemoryPolicy(bool enabled, IReadOnlyDictionary<string, ModelComponent[]> lastUse)
{
    /// <summary>Whether sessions are unloaded between phases.</summary>
    public bool Enabled => enabled;

    /// <summary>Ends <paramref name="phase"/>: in low-memory mode unloads the components whose last use it was.</summary>
    public void AfterPhase(string phase)
    {
        if (!enabled || !lastUse.TryGetValue(phase, out var done)) return;
        foreach (var component in done) component.Unload();
    }
}
