import { Fragment, type HTMLAttributes, type ReactNode } from "react";
import { QueryState } from "./ui";

/**
 * One column of a table: its header and how a row fills its cell. `className` goes on both the
 * header and the cells (e.g. `hide-phone`), `cellClassName` on the cells only (e.g. `small`).
 */
export interface Column<T> {
  header?: ReactNode;
  cell: (row: T) => ReactNode;
  className?: string;
  cellClassName?: string;
}

/** Attributes of a row's `<tr>`, such as the `data-*` names the tests and links find it by. */
type RowAttributes = HTMLAttributes<HTMLTableRowElement> & Record<`data-${string}`, string | undefined>;

export interface TableProps<T> {
  columns: Array<Column<T> | false | null | undefined>;
  rows: T[] | undefined;
  rowKey: (row: T) => string;
  rowProps?: (row: T) => RowAttributes;
  /** Draws a row itself (for rows that open into more rows); the columns still give the header. */
  renderRow?: (row: T) => ReactNode;
  className?: string;
}

/** The table markup every list page shares: a scrolling wrapper, a header row, a row per item. */
export function Table<T>({ columns, rows, rowKey, rowProps, renderRow, className }: TableProps<T>) {
  const shown = columns.filter((c): c is Column<T> => Boolean(c));
  return (
    <div className="table-wrap">
      <table className={className}>
        <thead>
          <tr>
            {shown.map((c, i) => (
              <th key={i} className={c.className}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows?.map((row) =>
            renderRow ? (
              <Fragment key={rowKey(row)}>{renderRow(row)}</Fragment>
            ) : (
              <tr key={rowKey(row)} {...rowProps?.(row)}>
                {shown.map((c, i) => (
                  <td key={i} className={joinClasses(c.className, c.cellClassName)}>
                    {c.cell(row)}
                  </td>
                ))}
              </tr>
            ),
          )}
        </tbody>
      </table>
    </div>
  );
}

function joinClasses(...names: Array<string | undefined>): string | undefined {
  const joined = names.filter(Boolean).join(" ");
  return joined || undefined;
}

/**
 * A query's rows as a table, with the loading, error and empty states of `QueryState`.
 * `children` follow the table, shown only when there are rows.
 */
export function ListTable<T>({
  query,
  rows = query.data,
  empty,
  children,
  ...table
}: Omit<TableProps<T>, "rows"> & {
  query: { isPending: boolean; error: Error | null; data?: T[] | undefined };
  rows?: T[] | undefined;
  /** What to say when there are no rows. */
  empty: string;
  children?: ReactNode;
}) {
  return (
    <QueryState query={query} empty={rows?.length === 0 && empty}>
      <Table rows={rows} {...table} />
      {children}
    </QueryState>
  );
}
