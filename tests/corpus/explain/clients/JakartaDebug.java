// A small Java app sending one message with Jakarta Mail (Debian's libjakarta-mail-java) with mail.debug=true
// (its own transcript on stdout) and, on failure, e.printStackTrace() as many apps do. Configured from
// $CLIENT_JOB (mode host port truststore user verify, space-separated) and $CLIENT_PASSWORD.
// Written for tests/corpus/explain/capture3.py.
import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import java.util.Properties;

public class JakartaDebug {
    public static void main(String[] args) {
        String[] job = System.getenv("CLIENT_JOB").split(" ", -1);
        String mode = job[0], host = job[1], port = job[2], store = job[3], user = job[4];
        boolean verify = job[5].equals("true");
        Properties p = new Properties();
        p.put("mail.debug", "true");
        p.put("mail.smtp.host", host);
        p.put("mail.smtp.port", port);
        p.put("mail.smtp.connectiontimeout", "5000");
        p.put("mail.smtp.timeout", "5000");
        p.put("mail.smtp.ssl.checkserveridentity", verify ? "true" : "false");
        if (!verify) {
            p.put("mail.smtp.ssl.trust", "*");
        }
        if (mode.equals("implicit")) {
            p.put("mail.smtp.ssl.enable", "true");
        } else if (mode.equals("starttls")) {
            p.put("mail.smtp.starttls.enable", "true");
            p.put("mail.smtp.starttls.required", "true");
        }
        if (!store.isEmpty()) {
            System.setProperty("javax.net.ssl.trustStore", store);
            System.setProperty("javax.net.ssl.trustStoreType", "PKCS12");
            System.setProperty("javax.net.ssl.trustStorePassword", "changeit");
        }
        p.put("mail.smtp.auth", user.isEmpty() ? "false" : "true");
        try {
            Session session = Session.getInstance(p);
            MimeMessage m = new MimeMessage(session);
            m.setFrom(new InternetAddress("app@example.com"));
            m.setRecipient(Message.RecipientType.TO, new InternetAddress("rcpt@example.com"));
            m.setSubject("java");
            m.setText("hello");
            if (user.isEmpty()) {
                Transport.send(m);
            } else {
                Transport.send(m, user, System.getenv("CLIENT_PASSWORD"));
            }
            System.out.println("sent");
        } catch (Exception e) {
            e.printStackTrace();
            System.exit(1);
        }
    }
}
