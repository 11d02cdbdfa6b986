"""The DuckDB side of the project: SQL statements (``sql``), the call outcome map
(``outcome_map``), and the views every query reads, in memory for a run or in the analysis
database ``diga.duckdb`` for analysts (``views``)."""
