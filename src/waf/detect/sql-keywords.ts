/**
 * The word classes of the SQL tokenizer: which words of the major SQL dialects (MySQL/MariaDB, SQL Server,
 * PostgreSQL, Oracle, SQLite) play which part in a statement. The lists are ours, written from the dialects'
 * reference manuals (reserved words, built-in functions, data types); a word in none of them is a bareword
 * (`n`), which is what an identifier or ordinary text is.
 *
 * Classes (one character each, they make up the fingerprint):
 * `E` starts a statement, `U` joins two queries, `B` groups or limits rows, `T` is a Transact-SQL
 * statement, `k` any other keyword, `f` a function, `t` a type name, `o` an operator, `&` a logical
 * connective, `1` a literal, `v` a variable-like word, `A` COLLATE.
 */

export type WordClass = 'E' | 'U' | 'B' | 'T' | 'k' | 'f' | 't' | 'o' | '&' | '1' | 'v' | 'A' | 'n';

const CLASSES: ReadonlyArray<readonly [WordClass, string]> = [
  // Statements that can follow a `;` or open a sub-query.
  [
    'E',
    `SELECT INSERT UPDATE  CREATE  ALTER RENAME   SHOW DESCRIBE EXPLAIN  
     CALL MERGE UPSERT`,
  ],
  // Multi-word statement openers (merged from two words, see the folder).
  ['E', 'INSERT+INTO DELETE+FROM SELECT+ALL SELECT+DISTINCT SELECT+TOP   '],
  ['U', 'UNION UNION+ALL UNION+DISTINCT EXCEPT EXCEPT+ALL INTERSECT INTERSECT+ALL MINUS'],
  ['B', 'GROUP+BY ORDER+BY HAVING LIMIT'],
  [
    'T',
    `DECLARE EXEC EXECUTE   WAITFOR+TIME WAITFOR+RECEIVE GOTO SHUTDOWN RAISERROR DBCC
     BULK+INSERT OPENROWSET OPENQUERY OPENDATASOURCE    
       `,
  ],
  [
    'k',
    `FROM WHERE INTO AS  JOIN INNER  CROSS NATURAL STRAIGHT_JOIN USING  TABLES VALUES VALUE 
      WHEN THEN ELSE  ELSEIF  DISTINCT DISTINCTROW   SOME ESCAPE ASC DESC IN  OUTFILE
     DUMPFILE LOCK UNLOCK   RECURSIVE DEFAULT PRIMARY KEY INDEX VIEW TRIGGER PROCEDURE FUNCTION
     COLUMN COLUMNS ADD RETURNS RETURN BEGIN CURSOR FETCH OPEN CLOSE DEALLOCATE PREPARE WHILE LOOP LEAVE
     ITERATE SIGNAL RESIGNAL IGNORE LOW_PRIORITY HIGH_PRIORITY DELAYED SQL_CALC_FOUND_ROWS SQL_CACHE
     SQL_NO_CACHE SQL_SMALL_RESULT SQL_BIG_RESULT SQL_BUFFER_RESULT TOP IDENTITY OVER PARTITION WINDOW
     AGAINST CONSTRAINT REFERENCES FOREIGN CASCADE RESTRICT TEMPORARY UNIQUE FULLTEXT SPATIAL OFFSET ROWS
     ONLY NOWAIT SKIP LOCKED SHARE MODE SEPARATOR OUTPUT INSERTED DELETED BROWSE NOCHECK NOLOCK READPAST
     ROWLOCK TABLOCK TRAN TRANSACTION COMMIT ROLLBACK SAVEPOINT USE DATABASES SCHEMAS PRIVILEGES
     INFORMATION_SCHEMA MYSQL PG_CATALOG SYSOBJECTS SYSCOLUMNS MSYSOBJECTS DUAL`,
  ],
  [
    'k',
    `INTO+OUTFILE INTO+DUMPFILE LEFT+JOIN RIGHT+JOIN INNER+JOIN CROSS+JOIN FULL+JOIN NATURAL+JOIN OUTER+JOIN
     LEFT+OUTER RIGHT+OUTER FULL+OUTER LEFT+OUTER+JOIN RIGHT+OUTER+JOIN FULL+OUTER+JOIN NOT+IN NOT+EXISTS
     IF+EXISTS IF+NOT CHARACTER+SET CHAR+SET FOR+UPDATE LOCK+IN LOCK+IN+SHARE IN+BOOLEAN IN+BOOLEAN+MODE
     PRIMARY+KEY FOREIGN+KEY IS+NULL IS+NOT+NULL`,
  ],
  [
    'f',
    `ABS ACOS ADDDATE ADDTIME AES_DECRYPT AES_ENCRYPT ASCII ASIN ATAN ATAN2 AVG BENCHMARK BIN BIT_AND
     BIT_COUNT BIT_LENGTH BIT_OR BIT_XOR CAST CEIL CEILING CHAR CHARINDEX CHARACTER_LENGTH CHARSET
     CHAR_LENGTH CHR COALESCE COERCIBILITY COLLATION COMPRESS CONCAT CONCAT_WS CONNECTION_ID CONV CONVERT
     CONVERT_TZ COS COT COUNT CRC32 CURDATE CURTIME DATE_ADD DATE_FORMAT DATE_SUB DATEADD DATEDIFF
     DATENAME DATEPART DAYNAME DAYOFMONTH DAYOFWEEK DAYOFYEAR DB_NAME DB_ID DECODE DEGREES DES_DECRYPT
     DES_ENCRYPT ELT ENCODE ENCRYPT EXP EXPORT_SET EXTRACT EXTRACTVALUE FIELD FIND_IN_SET FLOOR FORMAT
     FOUND_ROWS FROM_BASE64 FROM_DAYS FROM_UNIXTIME GET_FORMAT GET_LOCK GREATEST GROUP_CONCAT HEX IF IFNULL
     IIF INET_ATON INET_NTOA INSTR ISNULL IS_FREE_LOCK IS_USED_LOCK LAST_INSERT_ID LCASE LEAST  LENGTH
     LN LOAD_FILE LOCATE LOG LOG10 LOG2 LOWER LPAD LTRIM MAKEDATE MAKE_SET MASTER_POS_WAIT MAX MD5
     MICROSECOND MID MIN MONTHNAME NAME_CONST NOW NULLIF OCT OCTET_LENGTH OLD_PASSWORD ORD PERIOD_ADD
     PERIOD_DIFF PI POSITION POW POWER QUARTER QUOTE RADIANS RAND RELEASE_LOCK REPEAT  REVERSE
      ROUND ROW_COUNT RPAD RTRIM SCHEMA SEC_TO_TIME SHA SHA1 SHA2 SIGN SIN SLEEP SOUNDEX SPACE SQRT
     STD STDDEV STR_TO_DATE STRCMP SUBDATE SUBSTR SUBSTRING SUBSTRING_INDEX SUM SYSDATE TAN TIME_FORMAT
     TIME_TO_SEC TIMEDIFF TIMESTAMPADD TIMESTAMPDIFF TO_BASE64 TO_DAYS TO_SECONDS TRIM TRUNCATE UCASE
     UNCOMPRESS UNHEX UNIX_TIMESTAMP UPDATEXML UPPER UTC_DATE UTC_TIME UTC_TIMESTAMP UUID VARIANCE VERSION
     WEEKDAY WEEKOFYEAR YEARWEEK DATE  YEAR MONTH DAY HOUR MINUTE SECOND WEEK JSON_EXTRACT JSON_KEYS
     JSON_ARRAYAGG JSON_OBJECTAGG GTID_SUBSET GTID_SUBTRACT ST_LATFROMGEOHASH ST_LONGFROMGEOHASH
     ST_POINTFROMGEOHASH POLYGON MULTIPOINT GEOMETRYCOLLECTION LINESTRING MULTILINESTRING MULTIPOLYGON
     EXP ROW MATCH WEIGHT_STRING UUID_SHORT VALIDATE_PASSWORD_STRENGTH RANDOM_BYTES`,
  ],
  [
    'f',
    `NCHAR UNICODE LEN DATALENGTH HOST_NAME SUSER_NAME SUSER_SNAME SUSER_ID OBJECT_ID OBJECT_NAME
     IS_SRVROLEMEMBER IS_MEMBER HAS_DBACCESS QUOTENAME REPLICATE STUFF PATINDEX ISNUMERIC NEWID GETDATE
     GETUTCDATE SYSDATETIME STR SERVERPROPERTY ROW_NUMBER RANK DENSE_RANK NTILE FN_VARBINTOHEXSTR
     COL_NAME COL_LENGTH TYPE_NAME SCHEMA_NAME HASHBYTES STRING_AGG STRING_SPLIT TRY_CAST TRY_CONVERT
     PG_SLEEP CURRENT_DATABASE CURRENT_SCHEMA CURRENT_SETTING PG_READ_FILE PG_LS_DIR PG_READ_BINARY_FILE
     LO_IMPORT LO_EXPORT LO_GET ARRAY_AGG ARRAY_TO_STRING GENERATE_SERIES STRPOS TO_CHAR TO_NUMBER
     TO_DATE TO_TIMESTAMP QUERY_TO_XML XMLAGG XMLELEMENT XMLTYPE INET_SERVER_ADDR INET_CLIENT_ADDR
     PG_CLIENT_ENCODING CHR NVL NVL2 RAWTOHEX RAWTONHEX SYS_CONTEXT USERENV BITAND REGEXP_LIKE
     REGEXP_REPLACE REGEXP_SUBSTR REGEXP_INSTR      LISTAGG
     SQLITE_VERSION RANDOMBLOB ZEROBLOB TYPEOF UNLIKELY LIKELY GLOB_MATCH LOAD_EXTENSION JULIANDAY
     STRFTIME PRINTF SUBSTRB LENGTHB ASCIISTR UNISTR DUMP CHOOSE`,
  ],
  [
    't',
    `INT INTEGER BIGINT SMALLINT TINYINT MEDIUMINT DECIMAL NUMERIC FLOAT DOUBLE REAL BOOLEAN BOOL VARCHAR
     NVARCHAR VARCHAR2 NVARCHAR2 TINYTEXT MEDIUMTEXT LONGTEXT BLOB TINYBLOB MEDIUMBLOB LONGBLOB VARBINARY
     DATETIME DATETIME2 SMALLDATETIME SIGNED UNSIGNED ZEROFILL MONEY SMALLMONEY UNIQUEIDENTIFIER NTEXT
     INT2 INT4 INT8 FLOAT4 FLOAT8 BYTEA CLOB NCLOB SQL_VARIANT DOUBLE+PRECISION CHARACTER+VARYING`,
  ],
  [
    'o',
    `IS IS+NOT LIKE NOT+LIKE ILIKE NOT+ILIKE RLIKE NOT+RLIKE REGEXP NOT+REGEXP SOUNDS+LIKE BETWEEN
     NOT+BETWEEN NOT DIV MOD GLOB SIMILAR+TO NOT+SIMILAR+TO`,
  ],
  ['&', 'AND OR XOR AND+NOT OR+NOT'],
  ['1', ' TRUE FALSE'],
  [
    'v',
    `CURRENT_USER CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP LOCALTIME LOCALTIMESTAMP 
     `,
  ],
  ['A', 'COLLATE'],
  // Classes measured against ModSecurity where the dialect manuals leave the choice open (issue 17).
  ['1', 'TRUE FALSE'],
  ['v', 'NULL'],
  ['E', 'WAITFOR WAITFOR+DELAY CASE'],
  ['T', 'DROP DELETE USE'],
  ['k', 'HANDLER TIME REPLACE LOAD'],
  ['E', 'SET'],
  ['f', 'EXISTS ANY SYSTEM_USER SESSION_USER LEFT'],
  // Oracle packages are called with their package name: the dotted name is the function.
  [
    'f',
    `UTL_HTTP.REQUEST UTL_INADDR.GET_HOST_ADDRESS UTL_INADDR.GET_HOST_NAME DBMS_PIPE.RECEIVE_MESSAGE
     DBMS_LOCK.SLEEP DBMS_XMLGEN.GETXML CTXSYS.DRITHSX.SN SYS.DBMS_EXPORT_EXTENSION.GET_DOMAIN_INDEX_TABLES
     DBMS_UTILITY.SQLID_TO_SQLHASH DBMS_JAVA.RUNJAVA`,
  ],
];

/** Class of each known word (upper case; a multi-word phrase has its words joined by one space). */
const WORDS: ReadonlyMap<string, WordClass> = (() => {
  const map = new Map<string, WordClass>();
  for (const [cls, list] of CLASSES) {
    for (const w of list.split(/\s+/)) {
      if (w !== '') map.set(w.replaceAll('+', ' '), cls);
    }
  }
  return map;
})();

/** Two-character operators: `&&` and `||` are logical connectives (MySQL), the rest comparisons or arithmetic. */
const OPERATORS: ReadonlyMap<string, WordClass> = new Map<string, WordClass>([
  ['&&', '&'],
  ['||', '&'],
  ...[
    '!=',
    '!<',
    '!>',
    '!!',
    '!~',
    '<=',
    '>=',
    '<>',
    '<<',
    '>>',
    '==',
    ':=',
    '::',
    '&=',
    '|=',
    '*=',
    '|/',
    '<@',
    '<-',
    '->',
    '=>',
    '>>',
    '&<',
    '&>',
  ].map((op): [string, WordClass] => [op, 'o']),
]);

/** Lengths the signature table covers (longer words are looked up only when some known word is as long). */
const SIGNATURE_LENGTHS = 64;

/** Index of a word's signature: its length and its first and last characters, ASCII case folded (5 bits). */
function signature(length: number, first: number, last: number): number {
  return (length << 10) | ((first & 0x1f) << 5) | (last & 0x1f);
}

const SIGNATURES = (() => {
  const t = new Uint8Array(SIGNATURE_LENGTHS << 10);
  for (const w of WORDS.keys()) {
    if (w.length >= SIGNATURE_LENGTHS) throw new Error(`SQL word longer than the signature table: ${w}`);
    // The low five bits of a character's code: lower and upper case letters share them (and so do other
    // characters, which only makes the table let more words through to the exact lookup).
    t[signature(w.length, w.charCodeAt(0), w.charCodeAt(w.length - 1))] = 1;
  }
  return t;
})();

/** Class of a word (case-insensitive), or undefined when it is no SQL word. */
export function classifyWord(word: string): WordClass | undefined {
  const n = word.length;
  // Most words are no SQL word: a table of (length, first letter, last letter) of the known words rejects
  // them without upper-casing a copy.
  if (
    n === 0 ||
    n >= SIGNATURE_LENGTHS ||
    SIGNATURES[signature(n, word.charCodeAt(0), word.charCodeAt(n - 1))] === 0
  )
    return undefined;
  return WORDS.get(upperAscii(word));
}

/**
 * Whether `first + ' ' + second` can be a known word (a phrase), from the signature table alone: false means
 * classifyWord would answer undefined for it, so the folder need not build the phrase to ask.
 */
export function mayBePhrase(first: string, second: string): boolean {
  const n = first.length + 1 + second.length;
  if (n >= SIGNATURE_LENGTHS) return false;
  const head = first.length === 0 ? 0x20 : first.charCodeAt(0);
  const tail = second.length === 0 ? 0x20 : second.charCodeAt(second.length - 1);
  return SIGNATURES[signature(n, head, tail)] === 1;
}

/** Class of a two-character operator, or undefined when the pair is not one. */
export function classifyOperator(pair: string): WordClass | undefined {
  return OPERATORS.get(pair);
}

/** ASCII upper case only: SQL words are ASCII, and other bytes must not fold into them. */
export function upperAscii(s: string): string {
  // Fast path: plain ASCII upper-cases the same either way.
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) return s.toUpperCase();
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 0x20) : s[i];
  }
  return out;
}
