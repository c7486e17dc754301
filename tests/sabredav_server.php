<?php
/*
 * sabre/dav (Debian's php-sabre-dav) as Baïkal runs it, for the `dav` connector tests:
 * CalDAV, CardDAV, ACL (the service account `panel` is an admin principal), calendar
 * sharing (the CalendarServer `share` POST of sabre's SharingPlugin) and a SQLite PDO
 * backend. Run with `php -S 127.0.0.1:PORT sabredav_server.php` from the folder holding
 * users.json; SABRE_AUTH=basic or digest chooses the authentication backend.
 *
 * sabre/dav 1.8's PDO backend has no sharing: SharingBackend adds it with one table, the
 * way sabre/dav 2+ and Baïkal do, so that a calendar shared with alice appears in her
 * calendar home with bob as its DAV:owner.
 */

date_default_timezone_set('UTC');
set_error_handler(function ($errno, $errstr, $errfile, $errline) {
    if ($errno & (E_DEPRECATED | E_USER_DEPRECATED | E_NOTICE | E_STRICT)) {
        return true;  // sabre/dav 1.8 predates PHP 8: its notices are not errors here
    }
    throw new ErrorException($errstr, 0, $errno, $errfile, $errline);
});
require_once 'Sabre/autoload.php';

const REALM = 'SabreDAV';
$users = json_decode(file_get_contents(__DIR__ . '/users.json'), true);

$pdo = new PDO('sqlite:' . getcwd() . '/db.sqlite');
$pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
$pdo->exec(<<<'SQL'
CREATE TABLE IF NOT EXISTS calendarobjects (id integer primary key asc, calendardata blob,
  uri text, calendarid integer, lastmodified integer, etag text, size integer,
  componenttype text, firstoccurence integer, lastoccurence integer);
CREATE TABLE IF NOT EXISTS calendars (id integer primary key asc, principaluri text,
  displayname text, uri text, ctag integer, description text, calendarorder integer,
  calendarcolor text, timezone text, components text, transparent bool);
CREATE TABLE IF NOT EXISTS principals (id INTEGER PRIMARY KEY ASC, uri TEXT, email TEXT,
  displayname TEXT, vcardurl TEXT, UNIQUE(uri));
CREATE TABLE IF NOT EXISTS groupmembers (id INTEGER PRIMARY KEY ASC, principal_id INTEGER,
  member_id INTEGER, UNIQUE(principal_id, member_id));
CREATE TABLE IF NOT EXISTS users (id integer primary key asc, username TEXT, digesta1 TEXT,
  UNIQUE(username));
CREATE TABLE IF NOT EXISTS addressbooks (id integer primary key asc, principaluri text,
  displayname text, uri text, description text, ctag integer);
CREATE TABLE IF NOT EXISTS cards (id integer primary key asc, addressbookid integer,
  carddata blob, uri text, lastmodified integer);
CREATE TABLE IF NOT EXISTS shares (id integer primary key asc, calendarid integer,
  sharee text, readonly integer, uri text, UNIQUE(calendarid, sharee));
SQL);
foreach ($users as $name => $password) {
    $pdo->prepare('INSERT OR IGNORE INTO users (username, digesta1) VALUES (?, ?)')
        ->execute([$name, md5("$name:" . REALM . ":$password")]);
    foreach (['', '/calendar-proxy-read', '/calendar-proxy-write'] as $sub) {
        $pdo->prepare('INSERT OR IGNORE INTO principals (uri, email, displayname) VALUES (?, ?, ?)')
            ->execute(["principals/$name$sub", $sub ? null : "$name@example.org",
                       $sub ? null : ucfirst($name)]);
    }
}

class BasicBackend extends \Sabre\DAV\Auth\Backend\AbstractBasic
{
    public function __construct(private array $users)
    {
    }

    protected function validateUserPass($username, $password)
    {
        return isset($this->users[$username]) && hash_equals($this->users[$username], $password);
    }
}

class SharingBackend extends \Sabre\CalDAV\Backend\PDO implements \Sabre\CalDAV\Backend\SharingSupport
{
    public function getCalendarsForUser($principalUri)
    {
        $calendars = parent::getCalendarsForUser($principalUri);
        $shares = $this->pdo->prepare(
            'SELECT s.calendarid, s.readonly, s.uri, c.principaluri FROM shares s '
            . 'JOIN calendars c ON c.id = s.calendarid WHERE s.sharee = ?'
        );
        $shares->execute([$principalUri]);
        foreach ($shares->fetchAll(PDO::FETCH_ASSOC) as $share) {
            foreach (parent::getCalendarsForUser($share['principaluri']) as $calendar) {
                if ($calendar['id'] != $share['calendarid']) {
                    continue;
                }
                $calendar['{http://calendarserver.org/ns/}shared-url'] =
                    '/calendars/' . basename($share['principaluri']) . '/' . $calendar['uri'];
                $calendar['{http://sabredav.org/ns}owner-principal'] = $share['principaluri'];
                $calendar['{http://sabredav.org/ns}read-only'] = (bool)$share['readonly'];
                $calendar['uri'] = $share['uri'];
                $calendar['principaluri'] = $principalUri;
                $calendars[] = $calendar;
            }
        }
        return $calendars;
    }

    public function updateShares($calendarId, array $add, array $remove)
    {
        foreach ($add as $sharee) {
            $who = 'principals/' . preg_replace('/^mailto:|@.*$/', '', $sharee['href']);
            $uri = $this->pdo->prepare('SELECT uri FROM calendars WHERE id = ?');
            $uri->execute([$calendarId]);
            $this->pdo->prepare(
                'INSERT OR REPLACE INTO shares (calendarid, sharee, readonly, uri) VALUES (?, ?, ?, ?)'
            )->execute([$calendarId, $who, empty($sharee['readOnly']) ? 0 : 1,
                        'shared-' . $uri->fetchColumn()]);
        }
        foreach ($remove as $href) {
            $who = 'principals/' . preg_replace('/^mailto:|@.*$/', '', $href);
            $this->pdo->prepare('DELETE FROM shares WHERE calendarid = ? AND sharee = ?')
                ->execute([$calendarId, $who]);
        }
    }

    public function getShares($calendarId)
    {
        $shares = $this->pdo->prepare('SELECT sharee, readonly FROM shares WHERE calendarid = ?');
        $shares->execute([$calendarId]);
        $found = [];
        foreach ($shares->fetchAll(PDO::FETCH_ASSOC) as $share) {
            $found[] = [
                'href' => 'mailto:' . basename($share['sharee']) . '@example.org',
                'commonName' => ucfirst(basename($share['sharee'])),
                'status' => \Sabre\CalDAV\SharingPlugin::STATUS_ACCEPTED,
                'readOnly' => (bool)$share['readonly'],
            ];
        }
        return $found;
    }

    public function shareReply($href, $status, $calendarUri, $inReplyTo, $summary = null)
    {
        return null;
    }

    public function setPublishStatus($calendarId, $value)
    {
    }

    public function getNotificationsForPrincipal($principalUri)
    {
        return [];
    }

    public function deleteNotification($principalUri, \Sabre\CalDAV\Notifications\INotificationType $notification)
    {
    }
}

$authBackend = getenv('SABRE_AUTH') === 'digest'
    ? new \Sabre\DAV\Auth\Backend\PDO($pdo)
    : new BasicBackend($users);
$principalBackend = new \Sabre\DAVACL\PrincipalBackend\PDO($pdo);
$caldavBackend = new SharingBackend($pdo);
$carddavBackend = new \Sabre\CardDAV\Backend\PDO($pdo);

$server = new \Sabre\DAV\Server([
    new \Sabre\CalDAV\Principal\Collection($principalBackend),
    new \Sabre\CalDAV\CalendarRootNode($principalBackend, $caldavBackend),
    new \Sabre\CardDAV\AddressBookRoot($principalBackend, $carddavBackend),
]);
$server->setBaseUri('/');
$server->addPlugin(new \Sabre\DAV\Auth\Plugin($authBackend, REALM));
$server->addPlugin(new \Sabre\CalDAV\Plugin());
$server->addPlugin(new \Sabre\CardDAV\Plugin());
$server->addPlugin(new \Sabre\CalDAV\SharingPlugin());
$acl = new \Sabre\DAVACL\Plugin();
$acl->adminPrincipals[] = 'principals/panel';
$server->addPlugin($acl);
$server->exec();
