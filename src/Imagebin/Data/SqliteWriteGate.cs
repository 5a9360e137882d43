using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Imagebin.Data;

/// <summary>
/// Lets one writer at a time reach SQLite, in arrival order. SQLite has a single write lock; waiters left to its busy
/// handler poll with growing sleeps (up to 100 ms), so under steady writes an unlucky statement waited 60–640 ms while
/// others slipped in (measured with uploads and scans running together). Queueing writers here instead makes the
/// wait the sum of the writes ahead, nothing more.
/// </summary>
/// <remarks>
/// <para>
/// A transaction holds the gate from its start until it commits, rolls back or its connection closes; a write
/// statement outside a transaction holds it while it runs (a reader, such as <c>UPDATE … RETURNING</c>, until it is
/// disposed or its connection closes). Statements inside a transaction pass freely. Code must never write outside a
/// transaction on one context while it holds a transaction on another: the gate is not reentrant.
/// </para>
/// <para>
/// A lost permit stalls every writer until a restart, so each hold is tied to its connection, one at most, and ends
/// with it: the connection's own <see cref="DbConnection.StateChange"/> is watched rather than EF's close events,
/// which EF skips when it closes the connection of a context returned to the pool or disposed. A transaction that is
/// disposed without a commit ends that way, since EF closes the connection it opened for it.
/// </para>
/// </remarks>
public sealed class SqliteWriteGate : IDbTransactionInterceptor, IDbCommandInterceptor
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConditionalWeakTable<DbConnection, Hold> _holds = new();

    /// <summary>Permits free: 1 when no writer holds the gate, 0 while one does (for tests and diagnostics).</summary>
    internal int Available => _gate.CurrentCount;

    /// <summary>A connection's hold on the gate: by its transaction (<see cref="Command"/> null) or by one write statement.</summary>
    private sealed class Hold
    {
        public bool Held;
        public DbCommand? Command;
    }

    public InterceptionResult<DbTransaction> TransactionStarting(DbConnection connection, TransactionStartingEventData eventData, InterceptionResult<DbTransaction> result)
    {
        Enter(connection, command: null);
        return Begin(connection, eventData, result);
    }

    public async ValueTask<InterceptionResult<DbTransaction>> TransactionStartingAsync(
        DbConnection connection, TransactionStartingEventData eventData, InterceptionResult<DbTransaction> result, CancellationToken cancellationToken = default)
    {
        await EnterAsync(connection, command: null, cancellationToken);
        return Begin(connection, eventData, result);
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => ExitTransaction(eventData);

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        ExitTransaction(eventData);
        return Task.CompletedTask;
    }

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => ExitTransaction(eventData);

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        ExitTransaction(eventData);
        return Task.CompletedTask;
    }

    // A failed commit or rollback ends the transaction as far as its owner goes (it only disposes it now); a failed
    // savepoint does not, and the transaction goes on writing.
    public void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData)
    {
        if (eventData.Action is "Commit" or "Rollback")
        {
            ExitTransaction(eventData);
        }
    }

    public Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        TransactionFailed(transaction, eventData);
        return Task.CompletedTask;
    }

    public InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
    {
        EnterIfWrite(command);
        return result;
    }

    public async ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        await EnterIfWriteAsync(command, cancellationToken);
        return result;
    }

    public int NonQueryExecuted(DbCommand command, CommandExecutedEventData eventData, int result)
    {
        ExitCommand(command);
        return result;
    }

    public ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        ExitCommand(command);
        return ValueTask.FromResult(result);
    }

    public InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
    {
        EnterIfWrite(command);
        return result;
    }

    public async ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
    {
        await EnterIfWriteAsync(command, cancellationToken);
        return result;
    }

    public InterceptionResult DataReaderDisposing(DbCommand command, DataReaderDisposingEventData eventData, InterceptionResult result)
    {
        ExitCommand(command);
        return result;
    }

    public InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
    {
        EnterIfWrite(command);
        return result;
    }

    public async ValueTask<InterceptionResult<object>> ScalarExecutingAsync(
        DbCommand command, CommandEventData eventData, InterceptionResult<object> result, CancellationToken cancellationToken = default)
    {
        await EnterIfWriteAsync(command, cancellationToken);
        return result;
    }

    public object? ScalarExecuted(DbCommand command, CommandExecutedEventData eventData, object? result)
    {
        ExitCommand(command);
        return result;
    }

    public ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    {
        ExitCommand(command);
        return ValueTask.FromResult(result);
    }

    public void CommandFailed(DbCommand command, CommandErrorEventData eventData) => ExitCommand(command);

    public Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        ExitCommand(command);
        return Task.CompletedTask;
    }

    public void CommandCanceled(DbCommand command, CommandEndEventData eventData) => ExitCommand(command);

    public Task CommandCanceledAsync(DbCommand command, CommandEndEventData eventData, CancellationToken cancellationToken = default)
    {
        ExitCommand(command);
        return Task.CompletedTask;
    }

    /// <summary>
    /// Begins the transaction here, right after the gate admitted it, instead of leaving it to EF: EF would check the
    /// cancellation token once more before <c>BEGIN</c> and raises no event when beginning fails, so a request aborted
    /// in that moment, or a <c>BEGIN IMMEDIATE</c> that timed out, kept the permit while the connection stayed open.
    /// </summary>
    private InterceptionResult<DbTransaction> Begin(DbConnection connection, TransactionStartingEventData eventData, InterceptionResult<DbTransaction> result)
    {
        if (result.HasResult)
        {
            return result;
        }

        try
        {
            return InterceptionResult<DbTransaction>.SuppressWithResult(connection.BeginTransaction(eventData.IsolationLevel));
        }
        catch
        {
            Exit(connection, command: null);
            throw;
        }
    }

    private void EnterIfWrite(DbCommand command)
    {
        if (NeedsGate(command))
        {
            Enter(command.Connection!, command);
        }
    }

    private async ValueTask EnterIfWriteAsync(DbCommand command, CancellationToken cancellationToken)
    {
        if (NeedsGate(command))
        {
            await EnterAsync(command.Connection!, command, cancellationToken);
        }
    }

    private void Enter(DbConnection connection, DbCommand? command)
    {
        var hold = Prepare(connection);
        _gate.Wait();
        Take(hold, command);
    }

    private async ValueTask EnterAsync(DbConnection connection, DbCommand? command, CancellationToken cancellationToken)
    {
        var hold = Prepare(connection);
        await _gate.WaitAsync(cancellationToken);
        Take(hold, command);
    }

    /// <summary>
    /// Finds the connection's hold, watching the connection the first time. A connection that starts a transaction has
    /// none open (EF has just checked), and one that writes outside a transaction has none either, so a permit it still
    /// holds was left by a writer whose end went unseen: it goes back before the connection queues, or the connection
    /// would wait for itself. (Only a second write on a connection whose <c>UPDATE … RETURNING</c> reader is still open
    /// takes over the permit early, where it used to wait for itself.)
    /// </summary>
    private Hold Prepare(DbConnection connection)
    {
        var hold = _holds.GetValue(connection, Watch);
        Exit(connection, command: null, whoever: true);
        return hold;
    }

    private Hold Watch(DbConnection connection)
    {
        connection.StateChange += (_, change) =>
        {
            if (change.CurrentState is ConnectionState.Closed or ConnectionState.Broken)
            {
                Exit(connection, command: null, whoever: true);
            }
        };
        return new Hold();
    }

    private static void Take(Hold hold, DbCommand? command)
    {
        lock (hold)
        {
            hold.Held = true;
            hold.Command = command;
        }
    }

    private void ExitTransaction(TransactionEventData eventData) => Exit(eventData.Context?.Database.GetDbConnection(), command: null);

    private void ExitCommand(DbCommand command) => Exit(command.Connection, command);

    /// <summary>Gives the permit back if <paramref name="connection"/> holds it for <paramref name="command"/> (null: its transaction), or at all.</summary>
    private void Exit(DbConnection? connection, DbCommand? command, bool whoever = false)
    {
        if (connection is null || !_holds.TryGetValue(connection, out var hold))
        {
            return;
        }

        lock (hold)
        {
            if (!hold.Held || (!whoever && hold.Command != command))
            {
                return;
            }

            hold.Held = false;
            hold.Command = null;
        }

        _gate.Release();
    }

    private static bool NeedsGate(DbCommand command)
    {
        if (command.Transaction is not null || command.Connection is null)
        {
            return false;
        }

        var sql = command.CommandText.AsSpan().TrimStart();
        return sql.StartsWith("INSERT", StringComparison.OrdinalIgnoreCase)
            || sql.StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase)
            || sql.StartsWith("DELETE", StringComparison.OrdinalIgnoreCase)
            || sql.StartsWith("REPLACE", StringComparison.OrdinalIgnoreCase);
    }
}
