namespace Tora.Worker;

/// <summary>The worker process's entry point.</summary>
public static class WorkerProgram
{
    /// <summary>Builds and runs the worker host until stopped.</summary>
    public static async Task Main(string[] args)
    {
        using var host = Host.CreateApplicationBuilder(args).AddToraWorker().Build();
        await WorkerHost.RunAsync(host);
    }
}
