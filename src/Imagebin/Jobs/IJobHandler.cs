using Imagebin.Data;

namespace Imagebin.Jobs;

/// <summary>Runs one kind of job. Handlers must be idempotent: a job can run again after a crash or an expired lease.</summary>
public interface IJobHandler
{
    string Kind { get; }

    Task HandleAsync(Job job, CancellationToken cancellationToken);

    /// <summary>Called once when the job has failed its last attempt, to leave a visible state behind.</summary>
    Task OnExhaustedAsync(Job job, string error, CancellationToken cancellationToken);
}
