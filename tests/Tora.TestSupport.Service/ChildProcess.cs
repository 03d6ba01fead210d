using System.Diagnostics;
using System.Text;

namespace Tora.TestSupport.Service;

/// <summary>A child process with its output captured (for failure messages).</summary>
public sealed class ChildProcess(Process process, string name) : IDisposable
{
    private readonly StringBuilder _log = new();

    /// <summary>The operating-system process.</summary>
    public Process Process { get; } = process;

    /// <summary>The name given to the process (worker name or "api").</summary>
    public string Name { get; } = name;

    /// <summary>Everything the process wrote so far.</summary>
    public string Log { get { lock (_log) return _log.ToString(); } }

    internal void Capture()
    {
        Process.OutputDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        Process.ErrorDataReceived += (_, e) => { lock (_log) _log.AppendLine(e.Data); };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    /// <summary>SIGKILL: the process gets no chance to clean up (the fault under test).</summary>
    public void KillHard()
    {
        if (Process.HasExited) return;
        using (var kill = Process.Start("kill", ["-KILL", Process.Id.ToString()])!) kill.WaitForExit();
        Process.WaitForExit(30_000);
    }

    /// <summary>Stops the process (SIGTERM, then SIGKILL after 20 s); safe to call more than once.</summary>
    public void Stop()
    {
        try
        {
            if (Process.HasExited) return;
            using (var term = Process.Start("kill", ["-TERM", Process.Id.ToString()])!) term.WaitForExit();
            if (!Process.WaitForExit(20_000)) Process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { } // never started or already reaped
    }

    /// <inheritdoc />
    public void Dispose()
    {
        Stop();
        Process.Dispose();
    }
}
