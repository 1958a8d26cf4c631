package hours

// The IANA zone database, embedded (about 450 KB) in every binary that
// links this package, so that LoadLocation works whether or not the
// runtime has /usr/share/zoneinfo (Lambda's provided.al2023 images are not
// promised to): the system's files are still read first when present.
import _ "time/tzdata"
