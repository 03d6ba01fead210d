using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Tora.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
