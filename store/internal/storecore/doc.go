// Package storecore holds what the SQL stores (store/sqlite and
// store/postgres) do the same way whatever the database: the checks and
// bookkeeping of a change before it is written (normalize, check the
// version a writer expects, call the caller's function on a copy,
// validate, bump the version, build the audit row), the loader of the
// embedded migrations, the conversions of stored columns to ramp types and
// the errors both stores return. Transactions, SQL and the mapping of
// driver errors stay in each store.
//
// Every function here is pure and safe for concurrent use.
package storecore
