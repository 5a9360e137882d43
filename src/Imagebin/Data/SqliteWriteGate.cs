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
/// A transaction holds the gate from its start until it commits, rolls back or its connection closes; a write
/// statement outside a transaction holds it while it runs (a reader, such as <c>UPDATE … RETURNING</c>, until it is
/// disposed). Statements inside a transaction pass freely. Code must never write outside a transaction on one
/// context while it holds a transaction on another: the gate is not reentrant.
/// </remarks>
public sealed class SqliteWriteGate : IDbTransactionInterceptor, IDbCommandInterceptor, IDbConnectionInterceptor
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ConditionalWeakTable<DbConnection, Holder> _transactions = new();
    private readonly ConditionalWeakTable<DbCommand, Holder> _commands = new();

    /// <summary>Permits free: 1 when no writer holds the gate, 0 while one does (for tests and diagnostics).</summary>
    internal int Available => _gate.CurrentCount;

    private sealed class Holder
    {
        public int Held;
    }

    public InterceptionResult<DbTransaction> TransactionStarting(DbConnection connection, TransactionStartingEventData eventData, InterceptionResult<DbTransaction> result)
    {
        _gate.Wait();
        Hold(_transactions, connection);
        return result;
    }

    public async ValueTask<InterceptionResult<DbTransaction>> TransactionStartingAsync(
        DbConnection connection, TransactionStartingEventData eventData, InterceptionResult<DbTransaction> result, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        Hold(_transactions, connection);
        return result;
    }

    public void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Release(_transactions, ConnectionOf(eventData));

    public Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Release(_transactions, ConnectionOf(eventData));
        return Task.CompletedTask;
    }

    public void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Release(_transactions, ConnectionOf(eventData));

    public Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Release(_transactions, ConnectionOf(eventData));
        return Task.CompletedTask;
    }

    public void TransactionFailed(DbTransaction transaction, TransactionErrorEventData eventData) => Release(_transactions, ConnectionOf(eventData));

    public Task TransactionFailedAsync(DbTransaction transaction, TransactionErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Release(_transactions, ConnectionOf(eventData));
        return Task.CompletedTask;
    }

    // A transaction disposed without commit or rollback ends when EF closes its connection.
    public void ConnectionClosed(DbConnection connection, ConnectionEndEventData eventData) => Release(_transactions, connection);

    public Task ConnectionClosedAsync(DbConnection connection, ConnectionEndEventData eventData)
    {
        Release(_transactions, connection);
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
        Release(_commands, command);
        return result;
    }

    public ValueTask<int> NonQueryExecutedAsync(DbCommand command, CommandExecutedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        Release(_commands, command);
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
        Release(_commands, command);
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
        Release(_commands, command);
        return result;
    }

    public ValueTask<object?> ScalarExecutedAsync(DbCommand command, CommandExecutedEventData eventData, object? result, CancellationToken cancellationToken = default)
    {
        Release(_commands, command);
        return ValueTask.FromResult(result);
    }

    public void CommandFailed(DbCommand command, CommandErrorEventData eventData) => Release(_commands, command);

    public Task CommandFailedAsync(DbCommand command, CommandErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        Release(_commands, command);
        return Task.CompletedTask;
    }

    public void CommandCanceled(DbCommand command, CommandEndEventData eventData) => Release(_commands, command);

    public Task CommandCanceledAsync(DbCommand command, CommandEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Release(_commands, command);
        return Task.CompletedTask;
    }

    private void EnterIfWrite(DbCommand command)
    {
        if (NeedsGate(command))
        {
            _gate.Wait();
            Hold(_commands, command);
        }
    }

    private async ValueTask EnterIfWriteAsync(DbCommand command, CancellationToken cancellationToken)
    {
        if (NeedsGate(command))
        {
            await _gate.WaitAsync(cancellationToken);
            Hold(_commands, command);
        }
    }

    private static DbConnection? ConnectionOf(TransactionEventData eventData) => eventData.Context?.Database.GetDbConnection();

    private static bool NeedsGate(DbCommand command)
    {
        if (command.Transaction is not null)
        {
            return false;
        }

        var sql = command.CommandText.AsSpan().TrimStart();
        return sql.StartsWith("INSERT", StringComparison.OrdinalIgnoreCase)
            || sql.StartsWith("UPDATE", StringComparison.OrdinalIgnoreCase)
            || sql.StartsWith("DELETE", StringComparison.OrdinalIgnoreCase)
            || sql.StartsWith("REPLACE", StringComparison.OrdinalIgnoreCase);
    }

    private static void Hold<TKey>(ConditionalWeakTable<TKey, Holder> table, TKey key)
        where TKey : class => Interlocked.Exchange(ref table.GetOrCreateValue(key).Held, 1);

    private void Release<TKey>(ConditionalWeakTable<TKey, Holder> table, TKey? key)
        where TKey : class
    {
        if (key is not null && table.TryGetValue(key, out var holder) && Interlocked.Exchange(ref holder.Held, 0) == 1)
        {
            _gate.Release();
        }
    }
}
